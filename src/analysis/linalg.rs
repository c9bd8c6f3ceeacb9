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

    /// Rows `rows` of `self`, in that order.
    pub(crate) fn select_rows(&self, rows: &[usize]) -> Matrix {
        let data = rows.iter().flat_map(|&r| self.row(r).iter().copied());
        Matrix::new(rows.len(), self.cols, data.collect())
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
        out.data
            .par_chunks_mut(cols * ROWS_PER_TASK)
            .for_each(|rows| scale_to_unit_length(rows, cols));
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

    /// `f` of every entry, as a new matrix: one pass, where a copy then [`Matrix::map`] would
    /// write every entry twice.
    pub(crate) fn mapped(&self, f: impl Fn(f32) -> f32 + Sync + Send) -> Matrix {
        Matrix::new(
            self.rows,
            self.cols,
            self.data.par_iter().map(|&v| f(v)).collect(),
        )
    }
}

/// Below this share of non-zero entries, a product by the sparse rows beats the dense kernel
/// on this machine's kind of CPU (AVX2): 0.064 s against 0.085 s for MNIST's 60,000 images
/// (19% non-zero) times a 784 x 128 layer (`cargo bench --bench throughput -- product`); the
/// sparse loop is bound by reading the layer's rows, the dense one runs at the CPU's peak.
const SPARSE_BELOW_DENSITY: f64 = 0.25;

/// Rows scaled to unit length that are multiplied by many weight matrices. MNIST's images are
/// four-fifths background, so where most entries are zero the rows are kept as their non-zero
/// entries only, and a product costs in proportion to those.
pub enum ProductRows {
    Dense(Matrix),
    Sparse(SparseRows),
}

/// Rows per parallel task when rows are scanned or multiplied.
pub(crate) const ROWS_PER_TASK: usize = 64;

/// Rows `start..end` of a matrix (row-major), borrowed or made as they are asked for.
pub type Stretch<'a> = dyn Fn(usize, usize) -> std::borrow::Cow<'a, [f32]> + Sync + 'a;

/// `per_row` of every stretch of [`ROWS_PER_TASK`] of `rows` rows, in parallel, joined in
/// row order: one value per row.
pub(crate) fn per_row_of_stretches<T: Send>(
    rows: usize,
    stretch: &Stretch<'_>,
    per_row: impl Fn(&[f32]) -> Vec<T> + Sync,
) -> Vec<T> {
    (0..rows.div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .flat_map_iter(|task| {
            let start = task * ROWS_PER_TASK;
            per_row(&stretch(start, (start + ROWS_PER_TASK).min(rows)))
        })
        .collect()
}

/// Each row's sum of `term` over its entries (`rows` holds whole rows of `cols`), added from
/// `zero` in column order as `Iterator::sum` adds them (pass `-0.0` for the same sums bit for
/// bit), eight rows at a time: eight independent chains of additions, which the CPU overlaps
/// where a single row's chain waits on every addition in turn.
pub(crate) fn row_sums<T: Copy + std::ops::Add<Output = T>>(
    rows: &[f32],
    cols: usize,
    zero: T,
    term: impl Fn(f32) -> T,
) -> Vec<T> {
    const LANES: usize = 8;
    let cols = cols.max(1);
    let mut out = Vec::with_capacity(rows.len() / cols);
    let mut groups = rows.chunks_exact(cols * LANES);
    for group in &mut groups {
        let mut sums = [zero; LANES];
        for c in 0..cols {
            for (lane, sum) in sums.iter_mut().enumerate() {
                *sum = *sum + term(group[lane * cols + c]);
            }
        }
        out.extend(sums);
    }
    for row in groups.remainder().chunks(cols) {
        out.push(row.iter().fold(zero, |sum, &v| sum + term(v)));
    }
    out
}

/// Each row's squared length, summed in `f64` as the unit rows are scaled.
fn squared_lengths(rows: &[f32], cols: usize) -> Vec<f64> {
    row_sums(rows, cols, -0.0, |v| f64::from(v) * f64::from(v))
}

/// Whole rows of `cols` scaled in place to unit length (in `f64`, then rounded); zero rows
/// stay zero, so their cosines are 0.
pub(crate) fn scale_to_unit_length(rows: &mut [f32], cols: usize) {
    let squares = squared_lengths(rows, cols);
    for (row, sum) in rows.chunks_mut(cols.max(1)).zip(squares) {
        let norm = sum.sqrt();
        if norm > 0.0 {
            row.iter_mut()
                .for_each(|v| *v = (f64::from(*v) / norm) as f32);
        }
    }
}

/// Each row's number of non-zero entries.
pub(crate) fn non_zero_counts(rows: &[f32], cols: usize) -> impl Iterator<Item = usize> + '_ {
    rows.chunks(cols.max(1))
        .map(|row| row.iter().filter(|v| **v != 0.0).count())
}

impl ProductRows {
    /// The rows of `data` (`rows x cols`, row-major), each scaled to unit length as
    /// [`Matrix::normalized_rows`] does.
    pub fn unit_rows(rows: usize, cols: usize, data: &[f32]) -> Self {
        assert_eq!(data.len(), rows * cols, "rows do not match their shape");
        Self::unit_rows_of(rows, cols, &|start, end| {
            data[start * cols..end * cols].into()
        })
    }

    /// [`ProductRows::unit_rows`] of `rows` rows that `stretch(start, end)` hands out a stretch
    /// at a time: rows kept more compactly than as values, made into values as they are read.
    pub fn unit_rows_of<'a>(rows: usize, cols: usize, stretch: &Stretch<'a>) -> Self {
        let lengths = per_row_of_stretches(rows, stretch, |values| {
            non_zero_counts(values, cols).collect()
        });
        Self::of_scaled(rows, cols, stretch, &lengths, || {
            Matrix::new(rows, cols, stretch(0, rows).into_owned()).into_normalized_rows()
        })
    }

    /// The rows `stretch` hands out as [`ProductRows::unit_rows`] keeps them, where `lengths`
    /// are their numbers of non-zero entries and `dense` scales them to unit length as a whole
    /// matrix (called only if the rows are kept dense): for rows scaled while they were
    /// computed.
    pub(crate) fn of_scaled<'a>(
        rows: usize,
        cols: usize,
        stretch: &Stretch<'a>,
        lengths: &[usize],
        dense: impl FnOnce() -> Matrix,
    ) -> Self {
        let non_zero: usize = lengths.iter().sum();
        if (non_zero as f64) < SPARSE_BELOW_DENSITY * (rows * cols) as f64 {
            ProductRows::Sparse(SparseRows::unit_rows(cols, stretch, lengths))
        } else {
            ProductRows::Dense(dense())
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            ProductRows::Dense(m) => m.rows,
            ProductRows::Sparse(s) => s.offsets.len() - 1,
        }
    }

    /// Row `r`, written out whole.
    pub fn row(&self, r: usize) -> std::borrow::Cow<'_, [f32]> {
        match self {
            ProductRows::Dense(m) => m.row(r).into(),
            ProductRows::Sparse(s) => {
                let mut row = vec![0.0; s.cols];
                for (&c, &v) in s.entries(r) {
                    row[c as usize] = v;
                }
                row.into()
            }
        }
    }

    /// Rows `start..end` times `rhs`.
    pub fn rows_matmul(&self, start: usize, end: usize, rhs: &Matrix) -> Matrix {
        match self {
            ProductRows::Dense(m) => m.rows_matmul(start, end, rhs),
            ProductRows::Sparse(s) => s.rows_matmul(start, end, rhs),
        }
    }
}

/// Rows as their non-zero entries (compressed sparse rows).
pub struct SparseRows {
    cols: usize,
    /// Row `r`'s entries are `offsets[r]..offsets[r + 1]` of `columns` and `values`.
    offsets: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f32>,
}

impl SparseRows {
    /// The non-zero entries of each row `stretch` hands out, scaled to unit length; `lengths`
    /// are the rows' numbers of non-zero entries.
    fn unit_rows(cols: usize, stretch: &Stretch<'_>, lengths: &[usize]) -> Self {
        let mut offsets = Vec::with_capacity(lengths.len() + 1);
        offsets.push(0);
        for length in lengths {
            offsets.push(offsets[offsets.len() - 1] + length);
        }
        let total = offsets[lengths.len()];
        let (mut columns, mut values) = (vec![0u32; total], vec![0f32; total]);
        // Each task fills its rows' stretch of the two arrays.
        let mut tasks = Vec::new();
        let (mut columns_left, mut values_left) = (&mut columns[..], &mut values[..]);
        for start in (0..lengths.len()).step_by(ROWS_PER_TASK) {
            let end = (start + ROWS_PER_TASK).min(lengths.len());
            let count = offsets[end] - offsets[start];
            let (c, c_rest) = columns_left.split_at_mut(count);
            let (v, v_rest) = values_left.split_at_mut(count);
            (columns_left, values_left) = (c_rest, v_rest);
            tasks.push(((start, end), c, v));
        }
        tasks
            .into_par_iter()
            .for_each(|((start, end), columns, values)| {
                let rows = stretch(start, end);
                let mut at = 0;
                let squares = squared_lengths(&rows, cols);
                for (row, sum) in rows.chunks(cols.max(1)).zip(squares) {
                    let norm = sum.sqrt();
                    for (c, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                        columns[at] = c as u32;
                        values[at] = (f64::from(v) / norm) as f32;
                        at += 1;
                    }
                }
            });
        SparseRows {
            cols,
            offsets,
            columns,
            values,
        }
    }

    /// Row `r`'s non-zero entries: (column, value).
    fn entries(&self, r: usize) -> impl Iterator<Item = (&u32, &f32)> {
        let range = self.offsets[r]..self.offsets[r + 1];
        self.columns[range.clone()].iter().zip(&self.values[range])
    }

    fn rows_matmul(&self, start: usize, end: usize, rhs: &Matrix) -> Matrix {
        assert_eq!(self.cols, rhs.rows, "matmul shapes do not agree");
        let k = rhs.cols;
        let mut out = Matrix::zeros(end - start, k);
        if k == 0 {
            return out;
        }
        out.data
            .par_chunks_mut(k * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, block)| {
                pulp::Arch::new().dispatch(BlockProduct {
                    sparse: self,
                    first: start + task * ROWS_PER_TASK,
                    block,
                    rhs,
                })
            });
        out
    }
}

/// Consecutive rows of a sparse product, starting at row `first`, into `block`: each output
/// row is the sum of `rhs`'s rows weighted by the sparse row's entries. Dispatched by pulp, so
/// the multiply-adds use the widest vectors the CPU has.
struct BlockProduct<'a> {
    sparse: &'a SparseRows,
    first: usize,
    block: &'a mut [f32],
    rhs: &'a Matrix,
}

/// Output vectors `first..first + N` of one row of a sparse row's product with `rhs`, summed
/// over all the row's entries before they are stored, so that each entry costs loads and
/// multiply-adds rather than a store per output vector.
#[inline(always)]
fn chunk<S: pulp::Simd, const N: usize>(
    simd: S,
    rhs: &Matrix,
    (columns, values): (&[u32], &[f32]),
    first: usize,
    out: &mut [f32],
) {
    let (k, lanes) = (rhs.cols, lanes::<S>());
    let mut sums = [simd.splat_f32s(0.0); N];
    for (&c, &v) in columns.iter().zip(values) {
        let w = &rhs.data[c as usize * k + first * lanes..][..N * lanes];
        let splat = simd.splat_f32s(v);
        for (a, sum) in sums.iter_mut().enumerate() {
            // SAFETY: `w` holds `N * lanes` floats, so vector `a` of them lies inside it; the
            // read is unaligned.
            let w_a = unsafe { std::ptr::read_unaligned(w.as_ptr().add(a * lanes).cast()) };
            *sum = simd.mul_add_e_f32s(splat, w_a, *sum);
        }
    }
    let (out, _) = S::as_mut_simd_f32s(&mut out[first * lanes..][..N * lanes]);
    out.copy_from_slice(&sums);
}

fn lanes<S: pulp::Simd>() -> usize {
    std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>()
}

/// Output vectors summed at once: sixteen (128 columns of f32 with AVX2) read each entry once
/// for the common layer widths; eight where fewer are left. Sixteen and the broadcast value
/// are one more than AVX2's registers, so one sum spills, yet one pass over the entries beat
/// two passes of eight (0.069 against 0.078 s, `cargo bench -- product`).
const WIDE: usize = 16;
const NARROW: usize = 8;

impl pulp::WithSimd for BlockProduct<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let (sparse, k) = (self.sparse, self.rhs.cols);
        let vectors = k / lanes::<S>();
        for (i, out_row) in self.block.chunks_mut(k).enumerate() {
            let range = sparse.offsets[self.first + i]..sparse.offsets[self.first + i + 1];
            let entries = (&sparse.columns[range.clone()], &sparse.values[range]);
            let mut done = 0;
            while vectors - done >= WIDE {
                chunk::<S, WIDE>(simd, self.rhs, entries, done, out_row);
                done += WIDE;
            }
            while vectors - done >= NARROW {
                chunk::<S, NARROW>(simd, self.rhs, entries, done, out_row);
                done += NARROW;
            }
            // The vectors past the last chunk, and the columns past the last vector.
            let rest = done * lanes::<S>();
            let (out_head, out_tail) = S::as_mut_simd_f32s(&mut out_row[rest..]);
            for (&c, &v) in entries.0.iter().zip(entries.1) {
                let row = &self.rhs.data[c as usize * k..][..k];
                let (w_head, w_tail) = S::as_simd_f32s(&row[rest..]);
                let splat = simd.splat_f32s(v);
                for (o, &w) in out_head.iter_mut().zip(w_head) {
                    *o = simd.mul_add_e_f32s(splat, w, *o);
                }
                for (o, &w) in out_tail.iter_mut().zip(w_tail) {
                    *o += v * w;
                }
            }
        }
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
    // Coordinates where every vector is 0 add nothing to `G` nor to `Xᵀv`: even 200 images
    // leave about half of MNIST's pixels blank, and the products shrink by as much.
    let support: Vec<usize> = (0..d)
        .filter(|&i| vectors.iter().any(|x| x[i] != 0.0))
        .collect();
    let at = |v: &[f32], i: usize| f64::from(v[support[i]]);
    let x = faer::Mat::<f64>::from_fn(support.len(), k, |i, j| at(vectors[j], i));
    let t = faer::Mat::<f64>::from_fn(support.len(), targets.len(), |i, j| at(targets[j], i));
    // The factorisation reads the lower half of G only: half the products.
    let mut gram = faer::Mat::<f64>::zeros(k, k);
    faer::linalg::matmul::triangular::matmul(
        gram.as_mut(),
        faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
        faer::Accum::Replace,
        x.transpose(),
        faer::linalg::matmul::triangular::BlockStructure::Rectangular,
        &x,
        faer::linalg::matmul::triangular::BlockStructure::Rectangular,
        1.0,
        faer::get_global_parallelism(),
    );
    let along = x.transpose() * &t;
    let factor = skipping_cholesky(k, |i, j| gram[(i, j)]);
    (0..targets.len())
        .map(|m| {
            // Forward substitution: y_j is v's coordinate along the j-th new direction (0 for
            // a skipped vector, which opens none).
            let mut ys = vec![0.0; k];
            let mut total = 0.0;
            (0..k)
                .map(|j| {
                    let pivot = factor[j * k + j];
                    if pivot > 0.0 {
                        let row = &factor[j * k..j * k + j];
                        ys[j] = (along[(j, m)] - dot(row, &ys[..j])) / pivot;
                        total += ys[j] * ys[j];
                    }
                    total
                })
                .collect()
        })
        .collect()
}

/// The lower Cholesky factor (row-major `k x k`) of a Gram matrix, built row by row, with a
/// zero column and pivot for every vector whose residual against the earlier ones is
/// negligible (`1e-9` of its own square length).
fn skipping_cholesky(k: usize, gram: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut l = vec![0.0; k * k];
    for j in 0..k {
        let (done, rest) = l.split_at_mut(j * k);
        let row = &mut rest[..k];
        for c in 0..j {
            let pivot = done[c * k + c];
            if pivot > 0.0 {
                row[c] = (gram(j, c) - dot(&row[..c], &done[c * k..c * k + c])) / pivot;
            }
        }
        let residual = gram(j, j) - dot(&row[..j], &row[..j]);
        // A skipped vector keeps a zero pivot; its row is never read, only kept pivots' are.
        if residual > 1e-9 * gram(j, j) {
            row[j] = residual.sqrt();
        }
    }
    l
}

/// A dot product in four running sums, which the compiler can keep in one vector register.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for i in 0..4 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sums_add_as_a_plain_loop_does() {
        // Values of many magnitudes, so that another order of addition would round
        // differently; whole groups of eight rows and a remainder, and rows of one column.
        for (rows, cols) in [(19, 37), (8, 128), (5, 3), (11, 1)] {
            let data: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 7919) % 1013) as f32 * 10f32.powi((i % 9) as i32 - 4))
                .collect();
            let square = |v: f32| f64::from(v) * f64::from(v);
            let plain: Vec<f64> = data
                .chunks(cols)
                .map(|row| row.iter().map(|&v| square(v)).sum())
                .collect();
            let grouped = row_sums(&data, cols, -0.0, square);
            let bits = |sums: &[f64]| sums.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&grouped), bits(&plain), "{rows} x {cols}");
            let plain: Vec<f32> = data
                .chunks(cols)
                .map(|row| row.iter().map(|v| v * v).sum())
                .collect();
            let grouped = row_sums(&data, cols, -0.0, |v| v * v);
            assert_eq!(grouped, plain, "{rows} x {cols}");
        }
    }

    #[test]
    fn the_sparse_product_equals_the_dense_one() {
        // Every fifth entry non-zero, rows of different lengths, a task boundary inside, and
        // a zero row; output widths with whole chunks of sixteen and eight vectors, vectors
        // left over, and columns past the last vector.
        for k in [7, 67, 128, 213] {
            sparse_product_matches_dense(k);
        }
    }

    fn sparse_product_matches_dense(k: usize) {
        let (rows, d) = (150, 20);
        let data: Vec<f32> = (0..rows * d)
            .map(|i| {
                if (i * 7 + i / d) % 5 == 0 && i / d != 9 {
                    (i % 11) as f32 - 5.0
                } else {
                    0.0
                }
            })
            .collect();
        let ProductRows::Sparse(sparse) = ProductRows::unit_rows(rows, d, &data) else {
            panic!("a fifth non-zero is sparse");
        };
        let unit = Matrix::new(rows, d, data).normalized_rows();
        let b = Matrix::new(
            d,
            k,
            (0..d * k).map(|i| (i % 5) as f32 * 0.5 - 1.0).collect(),
        );
        for (start, end) in [(0, rows), (3, 131), (64, 64)] {
            let expected = unit.rows_matmul(start, end, &b);
            let got = sparse.rows_matmul(start, end, &b);
            assert_eq!((got.rows, got.cols), (end - start, k));
            for (x, y) in got.data.iter().zip(&expected.data) {
                assert!((x - y).abs() < 1e-5, "{x} != {y}");
            }
        }
        let rows = ProductRows::Sparse(sparse);
        for r in [0, 9, 149] {
            assert_eq!(rows.row(r).as_ref(), unit.row(r));
        }
    }
}
