//! Dense row-major matrices on the host and the few operations the analysis needs. The heavy
//! products go through the `gemm` crate (the kernel Burn's flex backend uses).

use rayon::prelude::*;

/// A row-major `rows x cols` matrix of `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not match its shape"
        );
        Self { rows, cols, data }
    }

    pub(crate) fn zeros(rows: usize, cols: usize) -> Self {
        Self::new(rows, cols, vec![0.0; rows * cols])
    }

    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn column(&self, c: usize) -> Vec<f32> {
        (0..self.rows)
            .map(|r| self.data[r * self.cols + c])
            .collect()
    }

    pub fn get(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.cols + c]
    }

    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        out
    }

    /// Each row scaled to unit length; zero rows stay zero so their cosines are 0.
    pub fn normalized_rows(&self) -> Matrix {
        self.clone().into_normalized_rows()
    }

    /// [`Matrix::normalized_rows`] without a copy.
    pub(crate) fn into_normalized_rows(self) -> Matrix {
        let mut out = self;
        let cols = out.cols.max(1);
        out.data.par_chunks_mut(cols).for_each(|row| {
            let norm = row
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt();
            if norm > 0.0 {
                row.iter_mut()
                    .for_each(|v| *v = (f64::from(*v) / norm) as f32);
            }
        });
        out
    }

    /// `self · rhs`.
    pub fn matmul(&self, rhs: &Matrix) -> Matrix {
        self.rows_matmul(0, self.rows, rhs)
    }

    /// Rows `start..end` of `self` times `rhs`, without copying the rows out first.
    pub(crate) fn rows_matmul(&self, start: usize, end: usize, rhs: &Matrix) -> Matrix {
        assert_eq!(self.cols, rhs.rows, "matmul shapes do not agree");
        assert!(start <= end && end <= self.rows, "rows out of range");
        let rows = end - start;
        let mut out = Matrix::zeros(rows, rhs.cols);
        if rows == 0 || rhs.cols == 0 {
            return out;
        }
        let lhs = &self.data[start * self.cols..end * self.cols];
        // SAFETY: the pointers and strides describe the three row-major buffers (`lhs` the
        // rows asked for), which live for the whole call; `out` does not alias the inputs.
        unsafe {
            gemm::gemm(
                rows,
                rhs.cols,
                self.cols,
                out.data.as_mut_ptr(),
                1,
                rhs.cols as isize,
                false,
                lhs.as_ptr(),
                1,
                self.cols as isize,
                rhs.data.as_ptr(),
                1,
                rhs.cols as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
        out
    }

    pub(crate) fn add_row_vector(&mut self, v: &[f32]) {
        assert_eq!(v.len(), self.cols);
        self.data.par_chunks_mut(self.cols.max(1)).for_each(|row| {
            row.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        });
    }

    pub fn map(&mut self, f: impl Fn(f32) -> f32 + Sync) {
        self.data.par_iter_mut().for_each(|v| *v = f(*v));
    }
}

/// `a·b / (|a| |b|)`, 0 where either norm is 0.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "cosine of vectors of different lengths");
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0
}

/// Mean, median, min and max of a sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summarize(values: &[f64]) -> Summary {
    if values.is_empty() {
        return Summary {
            mean: f64::NAN,
            median: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Summary {
        mean: sorted.iter().sum::<f64>() / n as f64,
        median,
        min: sorted[0],
        max: sorted[n - 1],
    }
}

/// A square row-major `f64` matrix as faer's.
fn faer_square(a: &[f64], n: usize) -> faer::Mat<f64> {
    faer::Mat::from_fn(n, n, |i, j| a[i * n + j])
}

/// Eigen-decomposition of a symmetric `n x n` matrix (row-major), by faer. Returns the
/// eigenvalues in decreasing order and the matching unit eigenvectors as rows.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let evd = faer_square(a, n)
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("the eigen-solver converges on a symmetric matrix");
    let (values, vectors) = (evd.S().column_vector(), evd.U());
    // faer sorts the eigenvalues increasing.
    (0..n)
        .rev()
        .map(|i| (values[i], (0..n).map(|k| vectors[(k, i)]).collect()))
        .unzip()
}

/// The Moore–Penrose pseudo-inverse of a symmetric `n x n` matrix (row-major), from faer's
/// eigen-decomposition. Eigenvalues below 1e-10 times the largest in magnitude count as zero:
/// a matrix singular by construction (centred class means sum to zero) then keeps its exact
/// null space instead of inverting a rounding error.
pub fn symmetric_pseudo_inverse(a: &[f64], n: usize) -> Vec<f64> {
    let (values, vectors) = symmetric_eigen(a, n);
    let largest = values.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let mut out = vec![0.0; n * n];
    for (lambda, v) in values.iter().zip(&vectors) {
        if lambda.abs() > 1e-10 * largest {
            for i in 0..n {
                for j in 0..n {
                    out[i * n + j] += v[i] * v[j] / lambda;
                }
            }
        }
    }
    out
}

/// For vectors `x_1, …, x_k` (in this order) and each `v` of `targets`: the squared length of
/// `v`'s projection onto the span of `x_1..x_i`, for every `i`.
///
/// Gram–Schmidt in the metric of the Gram matrix `G = XᵀX` (products by faer, in f64): a
/// Cholesky factorisation that visits the vectors in order and skips any whose residual against
/// the earlier ones vanishes. Such a vector adds nothing to the span, so skipping it is exact,
/// and every later vector is still measured against the whole span so far. (A Householder QR
/// would go wrong there: MNIST's 200 images most like a neuron can span fewer than 200
/// dimensions, a thin digit covering few pixels, and its arbitrary reflector for a dependent
/// vector would absorb part of the later ones.)
pub fn prefix_projections(vectors: &[&[f32]], targets: &[&[f32]]) -> Vec<Vec<f64>> {
    let k = vectors.len();
    let Some(d) = vectors.first().map(|x| x.len()) else {
        return vec![Vec::new(); targets.len()];
    };
    let x = faer::Mat::<f64>::from_fn(d, k, |i, j| f64::from(vectors[j][i]));
    let t = faer::Mat::<f64>::from_fn(d, targets.len(), |i, j| f64::from(targets[j][i]));
    let gram = x.transpose() * &x;
    let along = x.transpose() * &t;
    // Column j of the factor, over the vectors kept so far; `None` for a skipped vector.
    let mut factor: Vec<Option<Vec<f64>>> = Vec::with_capacity(k);
    for j in 0..k {
        let mut column = vec![0.0; k];
        let mut residual = gram[(j, j)];
        for earlier in factor.iter().flatten() {
            residual -= earlier[j] * earlier[j];
        }
        if residual <= 1e-9 * gram[(j, j)] {
            factor.push(None);
            continue;
        }
        let pivot = residual.sqrt();
        for (l, entry) in column.iter_mut().enumerate().skip(j) {
            let mut g = gram[(l, j)];
            for c in factor.iter().flatten() {
                g -= c[l] * c[j];
            }
            *entry = g / pivot;
        }
        factor.push(Some(column));
    }
    (0..targets.len())
        .map(|m| {
            // Forward substitution: y_j is v's coordinate along the j-th new direction.
            let mut ys: Vec<f64> = Vec::with_capacity(k);
            let mut total = 0.0;
            (0..k)
                .map(|j| {
                    let y = factor[j].as_ref().map_or(0.0, |c| {
                        let mut b = along[(j, m)];
                        for (i, y) in ys.iter().enumerate() {
                            if let Some(earlier) = &factor[i] {
                                b -= earlier[j] * y;
                            }
                        }
                        b / c[j]
                    });
                    ys.push(y);
                    total += y * y;
                    total
                })
                .collect()
        })
        .collect()
}
