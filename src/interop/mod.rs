//! Dense stacks in the files other frameworks read and write: safetensors (PyTorch's
//! `nn.Sequential` state dict, or Keras-style kernels) and NumPy's `.npz`.
//!
//! Exports are laid out as PyTorch's `nn.Sequential(nn.Linear, activation, nn.Linear, …)`:
//! `0.weight` `[out, in]`, `0.bias`, `2.weight`, … so `load_state_dict` takes them as they are.
//! Imports recognise that layout, nested prefixes (`net.0.weight`, `fc1.weight`) and Keras's
//! `kernel [in, out]`.

mod finite;
pub mod keras;
mod npy;

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use safetensors::{Dtype, SafeTensors};

use crate::analysis::linalg::Matrix;
use crate::core::config::Activation;
use crate::core::scaling::{InputScaling, PerChannel};
use crate::core::weights::LayerWeights;

/// The file formats weights travel in, told by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Safetensors,
    Npz,
}

impl Format {
    pub fn of(path: &Path) -> Result<Self> {
        let extension = path.extension().and_then(|e| e.to_str());
        match extension.map(str::to_ascii_lowercase).as_deref() {
            Some("safetensors") => Ok(Format::Safetensors),
            Some("npz") => Ok(Format::Npz),
            Some("bpk") => bail!(
                "{} is weightscope's own Burn format: analyse its run folder with `weightscope \
                 analyze --run DIR`, or convert it with `weightscope export DIR`",
                path.display()
            ),
            _ => bail!(
                "{} is neither a .safetensors nor a .npz file: name it FILE.safetensors or FILE.npz",
                path.display()
            ),
        }
    }
}

/// What an export records beside the tensors (safetensors metadata; `.npz` has none).
pub struct ExportInfo {
    pub activation: Activation,
    pub epoch: usize,
    pub seed: u64,
    pub input_scaling: InputScaling,
}

/// One tensor: its name, shape and values in C order.
struct NamedTensor {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// The tensors of PyTorch's `nn.Sequential(Linear, act, Linear, …)`: Linear `l` is module
/// `2l`, its weight `[out, in]`.
fn pytorch_tensors(layers: &[LayerWeights]) -> Vec<NamedTensor> {
    let mut out = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        out.push(NamedTensor {
            name: format!("{}.weight", 2 * l),
            shape: vec![layer.d_out, layer.d_in],
            values: transposed(layer.d_in, layer.d_out, layer.weight.clone()),
        });
        out.push(NamedTensor {
            name: format!("{}.bias", 2 * l),
            shape: vec![layer.d_out],
            values: layer.bias.clone(),
        });
    }
    out
}

/// A row-major `rows x cols` matrix's values laid out as its transpose: between PyTorch's
/// `[out, in]` and weightscope's (Keras's) `[in, out]`.
fn transposed(rows: usize, cols: usize, values: Vec<f32>) -> Vec<f32> {
    Matrix::new(rows, cols, values).transpose().data
}

/// The bytes of an export of `layers` in `format`.
pub(crate) fn encode(
    layers: &[LayerWeights],
    info: &ExportInfo,
    format: Format,
) -> Result<Vec<u8>> {
    let tensors = pytorch_tensors(layers);
    match format {
        Format::Safetensors => encode_safetensors(layers, &tensors, info),
        Format::Npz => encode_npz(&tensors),
    }
}

fn encode_safetensors(
    layers: &[LayerWeights],
    tensors: &[NamedTensor],
    info: &ExportInfo,
) -> Result<Vec<u8>> {
    let mut widths = vec![layers[0].d_in.to_string()];
    widths.extend(layers.iter().map(|l| l.d_out.to_string()));
    let mut metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("producer".to_string(), "weightscope".to_string()),
        ("layers".to_string(), widths.join(",")),
        ("activation".to_string(), info.activation.to_string()),
        ("epoch".to_string(), info.epoch.to_string()),
        ("seed".to_string(), info.seed.to_string()),
    ]);
    metadata.extend(info.input_scaling.metadata());
    safetensors_bytes(tensors, metadata)
}

/// Every layer's pixel templates (`neurons x pixels`) as safetensors: `trained.<layer>` and,
/// where known, `initial.<layer>`.
pub(crate) fn encode_pixel_templates(
    trained: &[Matrix],
    init: Option<&[Matrix]>,
    activation: Activation,
) -> Result<Vec<u8>> {
    let named = |prefix: &str, templates: &[Matrix]| -> Vec<NamedTensor> {
        templates
            .iter()
            .enumerate()
            .map(|(l, t)| NamedTensor {
                name: format!("{prefix}.{l}"),
                shape: vec![t.rows, t.cols],
                values: t.data.clone(),
            })
            .collect()
    };
    let mut tensors = named("trained", trained);
    tensors.extend(init.map(|i| named("initial", i)).unwrap_or_default());
    let metadata = HashMap::from([
        ("producer".to_string(), "weightscope".to_string()),
        ("activation".to_string(), activation.to_string()),
        (
            "definition".to_string(),
            "mean over the test images of d z_j / d x, z_j a neuron's pre-activation".to_string(),
        ),
    ]);
    safetensors_bytes(&tensors, metadata)
}

fn safetensors_bytes(
    tensors: &[NamedTensor],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            safetensors::tensor::TensorView::new(Dtype::F32, t.shape.clone(), b)
                .map(|view| (t.name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .context("cannot lay out the tensors as safetensors")?;
    safetensors::serialize(views, Some(metadata)).context("cannot write the tensors as safetensors")
}

fn encode_npz(tensors: &[NamedTensor]) -> Result<Vec<u8>> {
    use npyz::WriterBuilder;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // Stored, not compressed, as NumPy's own `savez` writes them.
    let options =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for t in tensors {
        let mut npy = Vec::new();
        let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut npy)
            .begin_nd()
            .context("encoding an .npy array")?;
        writer
            .extend(t.values.iter().copied())
            .context("encoding an .npy array")?;
        writer.finish().context("encoding an .npy array")?;
        zip.start_file(format!("{}.npy", t.name), options)
            .context("writing the .npz archive")?;
        zip.write_all(&npy).context("writing the .npz archive")?;
    }
    let cursor = zip.finish().context("writing the .npz archive")?;
    Ok(cursor.into_inner())
}

/// A dense stack read from a file.
#[derive(Debug)]
pub struct Imported {
    pub layers: Vec<LayerWeights>,
    /// The activation the file's metadata names, if any.
    pub activation: Option<Activation>,
    /// The input scaling the file's metadata names (`input_mean`, `input_std`), if any.
    pub input_scaling: Option<InputScaling>,
}

/// Reads the dense stack in `path` whose first layer takes `input_width` values.
pub fn read(path: &Path, input_width: usize) -> Result<Imported> {
    let format = Format::of(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes, format, &path.display().to_string(), input_width)
}

/// The dense stack in the bytes of a file in `format`; `name` names the file in errors.
pub fn parse(bytes: &[u8], format: Format, name: &str, input_width: usize) -> Result<Imported> {
    let (tensors, metadata) = match format {
        Format::Safetensors => decode_safetensors(bytes),
        Format::Npz => decode_npz(bytes).map(|t| (t, HashMap::new())),
    }
    .with_context(|| format!("{name} is not a weights file weightscope can read"))?;
    let activation = metadata
        .get("activation")
        .map(|a| {
            a.parse::<Activation>()
                .map_err(|e| anyhow!("{name}: metadata activation {a:?}: {e}"))
        })
        .transpose()?;
    let input_scaling = recorded_scaling(&metadata, name)?;
    for t in &tensors {
        finite::check(&format!("{name}: tensor {}", t.name), &t.values)?;
    }
    let layers = assemble(tensors, input_width)
        .with_context(|| format!("{name} does not hold a dense stack"))?;
    Ok(Imported {
        layers,
        activation,
        input_scaling,
    })
}

/// The metadata's `input_mean` and `input_std`, both or neither.
fn recorded_scaling(
    metadata: &HashMap<String, String>,
    name: &str,
) -> Result<Option<InputScaling>> {
    let value = |key: &str| -> Result<Option<PerChannel>> {
        metadata
            .get(key)
            .map(|text| InputScaling::parse_list(text, &format!("{name}: metadata {key}")))
            .transpose()
    };
    let (mean, std) = (value("input_mean")?, value("input_std")?);
    InputScaling::of(
        mean.as_ref(),
        std.as_ref(),
        [
            &format!("{name}: metadata input_mean"),
            &format!("{name}: metadata input_std"),
        ],
    )
}

fn decode_safetensors(bytes: &[u8]) -> Result<(Vec<NamedTensor>, HashMap<String, String>)> {
    let st = SafeTensors::deserialize(bytes).context("not safetensors")?;
    let (_, header) = SafeTensors::read_metadata(bytes).context("not safetensors")?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let mut tensors = Vec::new();
    let mut views = st.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in &views {
        refuse_other_layers(name, Some(view.shape()))?;
    }
    for (name, view) in views {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => bail!(
                "tensor {name} holds {other:?} values; weights must be floating point (F32, \
                 F64, F16 or BF16)"
            ),
        };
        tensors.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            values,
        });
    }
    Ok((tensors, metadata))
}

fn decode_npz(bytes: &[u8]) -> Result<Vec<NamedTensor>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).context("not an .npz archive")?;
    let mut tensors = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).context("a damaged .npz archive")?;
        let Some(name) = entry.name().strip_suffix(".npy").map(String::from) else {
            continue;
        };
        refuse_other_layers(&name, None)?;
        let mut npy = Vec::new();
        entry
            .read_to_end(&mut npy)
            .with_context(|| format!("a damaged .npz archive: {name}"))?;
        let (shape, values) = npy::decode(&name, &npy)?;
        refuse_other_layers(&name, Some(&shape))?;
        tensors.push(NamedTensor {
            name,
            shape,
            values,
        });
    }
    Ok(tensors)
}

/// The kind of layer other than a dense one that a tensor of this name and shape belongs to.
fn other_layer_kind(name: &str, shape: Option<&[usize]>) -> Option<&'static str> {
    let name = name.strip_suffix(":0").unwrap_or(name);
    let leaf = name.rsplit(['.', '/']).next().unwrap_or(name);
    let batch_norm = [
        "running_mean",
        "running_var",
        "num_batches_tracked",
        "moving_mean",
        "moving_variance",
    ];
    if batch_norm.contains(&leaf) {
        return Some("BatchNorm");
    }
    if ["gamma", "beta"].contains(&leaf) {
        return Some("normalisation (BatchNorm or LayerNorm)");
    }
    let weight = ["weight", "kernel"].contains(&leaf);
    match shape.map(<[usize]>::len) {
        Some(1) if weight => Some("normalisation (LayerNorm or BatchNorm)"),
        Some(3..) if weight => Some("convolution"),
        _ => None,
    }
}

/// Refuses, naming the layer kind, a tensor of a layer weightscope does not analyse.
fn refuse_other_layers(name: &str, shape: Option<&[usize]>) -> Result<()> {
    if let Some(kind) = other_layer_kind(name, shape) {
        bail!(
            "tensor {name} belongs to a {kind} layer, and weightscope analyses stacks of dense \
             (Linear) layers only: save the dense layers alone, folding an eval-mode BatchNorm \
             into the Linear layer before it"
        );
    }
    Ok(())
}

/// Which part of a dense layer a tensor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// PyTorch's `weight`, `[out, in]`.
    Weight,
    /// Keras's `kernel`, `[in, out]`.
    Kernel,
    Bias,
}

/// `net.0.weight` -> (`net.0`, Weight); `dense_1/kernel:0` -> (`dense_1`, Kernel).
fn split_name(name: &str) -> Option<(&str, Role)> {
    let name = name.strip_suffix(":0").unwrap_or(name);
    let (prefix, leaf) = name.rsplit_once(['.', '/']).unwrap_or(("", name));
    let role = match leaf {
        "weight" => Role::Weight,
        "kernel" => Role::Kernel,
        "bias" => Role::Bias,
        _ => return None,
    };
    Some((prefix, role))
}

/// The number in a layer's name that orders it (`net.2` -> 2, `fc1` -> 1, `dense` -> none).
fn layer_number(prefix: &str) -> Option<u64> {
    let end = prefix.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = prefix[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    prefix[start..end].parse().ok()
}

fn listing(tensors: &[NamedTensor]) -> String {
    let items: Vec<String> = tensors
        .iter()
        .map(|t| format!("{} {:?}", t.name, t.shape))
        .collect();
    items.join(", ")
}

const NAMING: &str = "name each layer's tensors N.weight [out, in] and N.bias (PyTorch) or \
                      N.kernel [in, out] and N.bias (Keras), N giving the layer's order";

/// The tensors found for one layer.
#[derive(Default)]
struct LayerParts {
    weight: Option<(Role, NamedTensor)>,
    bias: Option<NamedTensor>,
}

/// Pairs weights with biases, lays them out as `[in, out]` and orders them from the input.
fn assemble(tensors: Vec<NamedTensor>, input_width: usize) -> Result<Vec<LayerWeights>> {
    let found = listing(&tensors);
    if tensors.is_empty() {
        bail!("it holds no tensors");
    }
    let mut groups: BTreeMap<String, LayerParts> = BTreeMap::new();
    for t in tensors {
        let Some((prefix, role)) = split_name(&t.name).map(|(p, r)| (p.to_string(), r)) else {
            bail!(
                "tensor {} is not a weight, kernel or bias of a dense layer (found: {found}); \
                 {NAMING}",
                t.name
            );
        };
        let group = groups.entry(prefix.clone()).or_default();
        let slot_taken = match role {
            Role::Bias => group.bias.replace(t).is_some(),
            Role::Weight | Role::Kernel => group.weight.replace((role, t)).is_some(),
        };
        if slot_taken {
            bail!("layer {prefix:?} has two weights or two biases (found: {found}); {NAMING}");
        }
    }
    let mut layers = Vec::new();
    for (prefix, LayerParts { weight, bias }) in groups {
        let Some((role, weight)) = weight else {
            bail!("layer {prefix:?} has a bias but no weight (found: {found}); {NAMING}");
        };
        let Some(bias) = bias else {
            bail!(
                "{} has no bias beside it (found: {found}); save each layer's bias, zeros if it \
                 has none",
                weight.name
            );
        };
        layers.push((layer_number(&prefix), to_layer(role, weight, bias)?));
    }
    order(layers, input_width, &found)
}

fn to_layer(role: Role, weight: NamedTensor, bias: NamedTensor) -> Result<LayerWeights> {
    let [rows, cols] = weight.shape[..] else {
        bail!(
            "{} has shape {:?}; a dense layer's weight is a matrix",
            weight.name,
            weight.shape
        );
    };
    let (d_in, d_out, values) = match role {
        Role::Kernel => (rows, cols, weight.values),
        _ => (cols, rows, transposed(rows, cols, weight.values)),
    };
    if bias.shape != [d_out] {
        bail!(
            "{} has shape {:?} but {} has {d_out} outputs",
            bias.name,
            bias.shape,
            weight.name
        );
    }
    Ok(LayerWeights {
        d_in,
        d_out,
        weight: values,
        bias: bias.values,
    })
}

/// Orders the layers so each feeds the next, starting from the one that reads the input: by
/// their shapes where only one chain fits, else by the numbers in their names.
fn order(
    mut layers: Vec<(Option<u64>, LayerWeights)>,
    input_width: usize,
    found: &str,
) -> Result<Vec<LayerWeights>> {
    if let Some(chain) = unique_chain(&layers, input_width) {
        return Ok(chain.into_iter().map(|i| layers[i].1.clone()).collect());
    }
    if !layers.iter().any(|(_, l)| l.d_in == input_width) {
        bail!(
            "no layer takes the data's {input_width} inputs (found: {found}): the first layer \
             must read every pixel"
        );
    }
    let numbers: Vec<Option<u64>> = layers.iter().map(|(n, _)| *n).collect();
    let distinct = numbers
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if numbers.iter().filter(|n| n.is_none()).count() > 1 || distinct < numbers.len() {
        bail!("the layers' order is ambiguous (found: {found}); {NAMING}");
    }
    // A layer without a number comes first, as Keras names them dense, dense_1, dense_2.
    layers.sort_by_key(|(n, _)| n.map_or(0, |n| n + 1));
    let mut width = input_width;
    for (_, l) in &layers {
        if l.d_in != width {
            bail!(
                "the layers do not chain (found: {found}): in the order of their names one \
                 takes {} inputs after one with {width} outputs; {NAMING}",
                l.d_in
            );
        }
        width = l.d_out;
    }
    Ok(layers.into_iter().map(|(_, l)| l).collect())
}

/// Indices of the layers in feeding order when exactly one order chains them all.
fn unique_chain(layers: &[(Option<u64>, LayerWeights)], input_width: usize) -> Option<Vec<usize>> {
    let mut used = vec![false; layers.len()];
    let mut chain = Vec::new();
    let mut width = input_width;
    for _ in 0..layers.len() {
        let mut next = (0..layers.len()).filter(|&i| !used[i] && layers[i].1.d_in == width);
        let i = next.next()?;
        if next.next().is_some() {
            return None;
        }
        used[i] = true;
        chain.push(i);
        width = layers[i].1.d_out;
    }
    Some(chain)
}
