// weightscope explorer: the forward pass of every saved epoch, in the browser. The data comes
// from src/render/explore.rs; the drawing's preprocessing follows src/core/drawing.rs step by
// step, so the page and weightscope compute the same input and the same numbers.
"use strict";

const DATA = JSON.parse(document.getElementById("explore-data").textContent);
const $ = (id) => document.getElementById(id);
const CLASSES = DATA.class_names.length;
// The images' rows and columns (28 × 28 for MNIST).
const ROWS = DATA.image_rows, COLS = DATA.image_cols;
// Values per pixel: 1 (grayscale) or 3 (RGB, interleaved).
const CHANNELS = DATA.image_channels;
// How a signed vector over the pixels is coloured (paintSigned).
const PIXEL_LEGEND = CHANNELS === 3 ? "each channel bright +, dark −, mid-grey 0" : "red +, blue −";
const FIRST_TRAINING = DATA.first_training_images;

// ---- decoding -------------------------------------------------------------------------

// The bytes go into the stream from memory (not through a Blob, which the browser reads
// elsewhere), so that loading is all work on the page's own thread: a headless browser's
// virtual clock then waits for it to finish, however slow the machine.
async function inflatePiece(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const source = new ReadableStream({ start(controller) { controller.enqueue(bytes); controller.close(); } });
  const stream = source.pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// An array is deflated in pieces (weightscope deflates them side by side): inflate each, join.
async function inflate(pieces) {
  const parts = await Promise.all((pieces ?? []).map(inflatePiece));
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

const asU16 = (bytes) => new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
const asU32 = (bytes) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const asF32 = (bytes) => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);

// Per epoch, per layer {w (d_in x d_out, row-major), b}: undo the byte planes, then the XOR
// with the previous epoch.
function unpackWeights(planes) {
  const widths = DATA.widths;
  let perEpoch = 0;
  for (let l = 0; l + 1 < widths.length; l++) perEpoch += widths[l] * widths[l + 1] + widths[l + 1];
  const count = perEpoch * DATA.epochs.length;
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    bits[i] = (planes[i] | (planes[count + i] << 8) | (planes[2 * count + i] << 16) | (planes[3 * count + i] << 24)) >>> 0;
  }
  for (let i = perEpoch; i < count; i++) bits[i] ^= bits[i - perEpoch];
  const floats = new Float32Array(bits.buffer);
  return DATA.epochs.map((_, e) => {
    let at = e * perEpoch;
    const layers = [];
    for (let l = 0; l + 1 < widths.length; l++) {
      const [din, dout] = [widths[l], widths[l + 1]];
      const w = floats.subarray(at, at + din * dout);
      at += din * dout;
      const b = floats.subarray(at, at + dout);
      at += dout;
      layers.push({ w, b, din, dout });
    }
    return layers;
  });
}

async function unpackImages(images, pixels) {
  const bytes = await inflate(images.pixels);
  return {
    count: images.count,
    indices: images.indices.length ? Array.from(asU32(await inflate(images.indices))) : null,
    labels: asU16(await inflate(images.labels)),
    image: (k) => bytes.subarray(k * pixels, (k + 1) * pixels),
  };
}

// ---- the forward pass -----------------------------------------------------------------

const ACTIVATIONS = {
  relu: (z) => Math.max(z, 0),
  sigmoid: (z) => Math.fround(1 / (1 + Math.exp(-z))),
  tanh: (z) => Math.fround(Math.tanh(z)),
  linear: (z) => z,
};

// Every layer's input and output for one input (f32 values, as weightscope's matrices hold).
function forward(layers, x) {
  const act = ACTIVATIONS[DATA.activation];
  const inputs = [];
  const outputs = [];
  let h = x;
  layers.forEach((layer, l) => {
    inputs.push(h);
    const z = new Float64Array(layer.dout);
    for (let j = 0; j < layer.dout; j++) z[j] = 0;
    for (let i = 0; i < layer.din; i++) {
      const v = h[i];
      if (v === 0) continue;
      const row = i * layer.dout;
      for (let j = 0; j < layer.dout; j++) z[j] += v * layer.w[row + j];
    }
    const out = new Float64Array(layer.dout);
    for (let j = 0; j < layer.dout; j++) {
      const pre = Math.fround(Math.fround(z[j]) + layer.b[j]);
      out[j] = l + 1 < layers.length ? act(pre) : pre;
    }
    outputs.push(out);
    h = out;
  });
  return { inputs, outputs };
}

const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

function column(layer, j) {
  const c = new Float64Array(layer.din);
  for (let i = 0; i < layer.din; i++) c[i] = layer.w[i * layer.dout + j];
  return c;
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / (Math.sqrt(na) * Math.sqrt(nb));
}

function softmax(logits) {
  const max = Math.max(...logits);
  const e = Array.from(logits, (z) => Math.exp(z - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// Winner and cos(layer input, winner's weights) of every layer.
function winners(layers, x) {
  const p = forward(layers, x);
  return {
    p,
    layers: layers.map((layer, l) => {
      const winner = argmax(p.outputs[l]);
      return { winner, cos: cosine(p.inputs[l], column(layer, winner)) };
    }),
  };
}

// ---- drawing: src/core/drawing.rs, step by step -----------------------------------------

function segmentDistance(a, b, x, y) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  const t = length2 > 0 ? Math.min(Math.max(((x - a[0]) * dx + (y - a[1]) * dy) / length2, 0), 1) : 0;
  const cx = a[0] + t * dx, cy = a[1] + t * dy;
  return Math.sqrt((x - cx) ** 2 + (y - cy) ** 2);
}

// Ink of a stroke's segments on the canvas raster, as the max over segments of the pen's
// profile (the same as the profile of the nearest segment, which is how drawing.rs puts it).
function inkSegment(ink, a, b) {
  const n = DATA.canvas, r = DATA.pen_radius + 1;
  const x0 = Math.max(0, Math.floor(Math.min(a[0], b[0]) - r)), x1 = Math.min(n - 1, Math.ceil(Math.max(a[0], b[0]) + r));
  const y0 = Math.max(0, Math.floor(Math.min(a[1], b[1]) - r)), y1 = Math.min(n - 1, Math.ceil(Math.max(a[1], b[1]) + r));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const v = Math.min(Math.max(DATA.pen_radius + 0.5 - segmentDistance(a, b, x + 0.5, y + 0.5), 0), 1);
      if (v > ink[y * n + x]) ink[y * n + x] = v;
    }
  }
}

function raster(strokes) {
  const ink = new Float64Array(DATA.canvas * DATA.canvas);
  for (const s of strokes) {
    if (s.length === 1) inkSegment(ink, s[0], s[0]);
    for (let i = 1; i < s.length; i++) inkSegment(ink, s[i - 1], s[i]);
  }
  return ink;
}

// The network's input for the canvas's ink (`raster`), as drawing.rs's `drawn_input`: for
// digits, scaled into 20 × 20 and centred by its mass, as MNIST made its images; for other
// images, scaled to fill the whole image.
function drawnInput(ink) {
  const n = DATA.canvas, BOX = DATA.digits ? 20 : Math.min(ROWS, COLS);
  const out = new Float64Array(ROWS * COLS);
  let x0 = n, y0 = n, x1 = -1, y1 = -1;
  for (let i = 0; i < ink.length; i++) {
    if (ink[i] > 0) {
      const x = i % n, y = Math.floor(i / n);
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return out;
  const scale = BOX / Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const overlaps = (origin, end) => {
    const cells = [];
    for (let k = 0; k < BOX; k++) {
      const a = origin + k / scale, b = origin + (k + 1) / scale;
      const list = [];
      for (let p = origin; p <= end; p++) {
        const w = Math.min(b, p + 1) - Math.max(a, p);
        if (w > 0) list.push([p, w]);
      }
      cells.push(list);
    }
    return cells;
  };
  const columns = overlaps(x0, x1), rows = overlaps(y0, y1);
  const boxed = new Float64Array(BOX * BOX);
  for (let r = 0; r < BOX; r++) {
    for (let c = 0; c < BOX; c++) {
      let sum = 0;
      for (const [y, wy] of rows[r]) for (const [x, wx] of columns[c]) sum += wy * wx * ink[y * n + x];
      boxed[r * BOX + c] = sum * scale * scale;
    }
  }
  let mass = 0, mx = 0, my = 0, width = 0, height = 0;
  boxed.forEach((v, i) => {
    if (!(v > 0)) return;
    const c = i % BOX, r = Math.floor(i / BOX);
    mass += v; mx += v * (c + 0.5); my += v * (r + 0.5);
    width = Math.max(width, c + 1); height = Math.max(height, r + 1);
  });
  // Rust's f64::round rounds halves away from zero; Math.round rounds them up.
  const round = (v) => Math.sign(v) * Math.round(Math.abs(v));
  const offset = (centre, extent, side) => Math.min(Math.max(round(side / 2 - centre), 0), side - extent);
  const [ox, oy] = mass > 0 ? [offset(mx / mass, width, COLS), offset(my / mass, height, ROWS)] : DATA.digits ? [4, 4] : [0, 0];
  boxed.forEach((v, i) => { out[(Math.floor(i / BOX) + oy) * COLS + (i % BOX) + ox] = Math.fround(v); });
  return out;
}

// ---- pictures -----------------------------------------------------------------------

// Diverging blue–white–red for weights (symmetric about 0), grey for images.
function diverging(v, scale) {
  const t = scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0;
  return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))] : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

function paint(canvas, w, h, values, colour) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = i < values.length ? colour(values[i]) : [235, 235, 235];
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

const grey = (v) => { const g = Math.round(255 * Math.min(Math.max(v, 0), 1)); return [g, g, g]; };

// Three values per pixel, red, green and blue, each made a byte by `byte`.
function paintChannels(canvas, values, byte) {
  canvas.width = COLS;
  canvas.height = ROWS;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(COLS, ROWS);
  for (let i = 0; i < COLS * ROWS; i++) {
    img.data.set([byte(values[3 * i]), byte(values[3 * i + 1]), byte(values[3 * i + 2]), 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

// An image whose values are in [0, 1].
function paintImage(canvas, values) {
  if (CHANNELS === 3) paintChannels(canvas, values, (v) => Math.round(255 * Math.min(Math.max(v, 0), 1)));
  else paint(canvas, COLS, ROWS, values, grey);
}

// Values in pixel space on a scale symmetric about 0: diverging for one channel, each channel
// of a colour image from dark (−) through mid-grey (0) to bright (+); NaN light grey.
function paintSigned(canvas, values, scale) {
  if (CHANNELS === 3) {
    paintChannels(canvas, values, (v) => (Number.isNaN(v) ? 200 : Math.round(255 * (0.5 + 0.5 * Math.max(-1, Math.min(1, v / scale))))));
  } else {
    paint(canvas, COLS, ROWS, values, (v) => (Number.isNaN(v) ? [200, 200, 200] : diverging(v, scale)));
  }
}

// Colours saturate at the 99th percentile of |value|, so that a few outlying pixels do not
// wash out the rest.
function paintWeights(canvas, values, shape) {
  const sorted = Array.from(values, Math.abs).sort((a, b) => a - b);
  const scale = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
  if (values.length === ROWS * COLS * CHANNELS) paintSigned(canvas, values, scale);
  else paint(canvas, shape[1], shape[0], values, (v) => diverging(v, scale));
}

// A pixel fewer than this share of the images ink keeps its random first-layer weights, which
// every input gradient carries; gradient images grey it out, as the run's figures do.
const RARELY_INKED = 0.05;
let inked = null;

function inkedPixels(set, pixels) {
  const counts = new Uint32Array(pixels);
  for (let k = 0; k < set.count; k++) {
    const image = set.image(k);
    for (let i = 0; i < pixels; i++) if (image[i] > 0) counts[i]++;
  }
  return Array.from(counts, (c) => c >= RARELY_INKED * set.count);
}

// An input gradient (an effective or pixel template), the rarely inked pixels grey.
function paintGradient(canvas, values) {
  const kept = values.filter((_, i) => inked[i]);
  const sorted = Array.from(kept, Math.abs).sort((a, b) => a - b);
  const scale = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
  paintSigned(canvas, values.map((v, i) => (inked[i] ? v : NaN)), scale);
}

// Rows × columns to show a layer of `n` values: 28 × 28 for pixels, a strip for a few, else
// as many columns as the largest power of two whose square fits, as the article draws its
// 128 hidden neurons in 16 × 8 (256 in 16 × 16).
function shape(n) {
  if (n === ROWS * COLS * CHANNELS) return [ROWS, COLS];
  if (n <= 16) return [1, n];
  let cols = 1;
  while (2 * cols * (2 * cols) <= n) cols *= 2;
  return [Math.ceil(n / cols), cols];
}

// ---- the page -----------------------------------------------------------------------

const page = { source: "test", index: 0, epoch: 0, strokes: [], selected: null };
let weights, test, train, views;

function layerName(l) {
  return l + 1 === DATA.widths.length - 1 ? "output layer" : `hidden layer ${l + 1}`;
}

// What the network sees of pixels in [0, 1]: (v − mean) / std per channel (channel last), in
// f32 as weightscope computes it; the pixels themselves where the run used no normalisation.
function networkInput(pixels) {
  const mean = DATA.input_mean.map(Math.fround), std = DATA.input_std.map(Math.fround);
  if (mean.every((m) => m === 0) && std.every((s) => s === 1)) return pixels;
  const c = mean.length;
  return Float64Array.from(pixels, (v, i) => Math.fround(Math.fround(v - mean[i % c]) / std[i % c]));
}

// The current input: its pixels in [0, 1] to show, and `x`, what the network sees.
function currentInput() {
  let pixels, label = null;
  if (page.source === "draw") {
    // The pad's raster is kept up to date stroke by stroke; it equals raster(page.strokes).
    pixels = drawnInput(padInk ?? raster(page.strokes));
  } else {
    const set = page.source === "test" ? test : train;
    const k = page.source === "test" ? page.index : train.indices.indexOf(page.index);
    if (k < 0 || k >= set.count) return null;
    pixels = Float64Array.from(set.image(k), (b) => Math.fround(b / 255));
    label = set.labels[k];
  }
  return { pixels, x: networkInput(pixels), label };
}

function view(epoch, layer) {
  const widths = DATA.widths, per = DATA.neighbours_per_neuron;
  let neurons = 0;
  for (let l = 0; l + 1 < widths.length; l++) neurons += widths[l + 1];
  let before = 0;
  for (let l = 0; l < layer; l++) before += widths[l + 1];
  const n = widths[layer + 1];
  const at = epoch * neurons + before;
  return {
    neighbours: views.neighbours.subarray(at * per, (at + n) * per),
    cosines: views.cosines.subarray(at * per, (at + n) * per),
    classMeans: views.classMeans.subarray(at * CLASSES, (at + n) * CLASSES),
  };
}

function update() {
  const started = performance.now();
  const input = currentInput();
  const layers = weights[page.epoch];
  if (!input) {
    const error = page.source === "train"
      ? `Training image ${page.index} is not in this page, which holds ${DATA.train.count} of them: the first ${FIRST_TRAINING} and every neuron's most similar ones.`
      : `There is no test image ${page.index}; there are ${test.count}.`;
    $("status").textContent = error;
    $("explore-state").textContent = JSON.stringify({ source: page.source, index: page.index, epoch: DATA.epochs[page.epoch], error });
    return;
  }
  const now = winners(layers, input.x);
  const init = DATA.initial ? winners(weights[0], input.x) : null;
  const logits = now.p.outputs[now.p.outputs.length - 1];
  const probabilities = softmax(logits);
  const prediction = argmax(logits);
  showInput(input, prediction);
  showOutput(probabilities, prediction, input.label);
  showLayers(now, init);
  if (page.selected) showNeuron(page.selected.layer, page.selected.neuron);
  const state = {
    source: page.source,
    index: page.source === "draw" ? null : page.index,
    epoch: DATA.epochs[page.epoch],
    prediction,
    prediction_name: DATA.class_names[prediction],
    probabilities,
    layers: now.layers.map((l, i) => ({ winner: l.winner, cos: l.cos, cos_init: init ? init.layers[i].cos : null })),
  };
  if (page.source === "draw") state.input = Array.from(input.x);
  if (DATA.snapshot_names) state.snapshot = DATA.snapshot_names[page.epoch];
  if (page.selected) {
    const { layer, neuron } = page.selected;
    state.selected = { layer, neuron, pixel_template: pixelTemplate(page.epoch, layer, neuron) };
  }
  $("explore-state").textContent = JSON.stringify(state);
  const name = snapshotName(page.epoch);
  $("status").textContent = `${name[0].toUpperCase()}${name.slice(1)}: updated in ${(performance.now() - started).toFixed(1)} ms.`;
  writeFragment();
}

function showInput(input, prediction) {
  paintImage($("input"), input.pixels);
  $("input-caption").textContent = page.source === "draw"
    ? (DATA.digits
      ? "your drawing as MNIST prepares its digits: scaled into 20 × 20, centred by its mass"
      : `your drawing, scaled to fit ${ROWS} × ${COLS}`)
    : `${page.source} image ${page.index}, ${DATA.class_names[input.label]}`;
  if (input.x !== input.pixels) {
    $("input-caption").textContent += `; the network sees (pixel − ${DATA.input_mean.join(", ")}) / ${DATA.input_std.join(", ")}`;
  }
  const e = effectiveTemplate(page.epoch, prediction);
  $("effective-figure").hidden = !e;
  if (e) {
    paintGradient($("effective"), e);
    $("effective-caption").textContent = `effective template of ${DATA.class_names[prediction]}: the mean over its test images of d logit / d input (${PIXEL_LEGEND}; grey: rarely inked)`;
  }
}

function effectiveTemplate(epoch, c) {
  if (!views.effective.length) return null;
  const pixels = DATA.widths[0];
  const at = (epoch * CLASSES + c) * pixels;
  const scale = DATA.effective_scales[epoch];
  return Array.from(views.effective.subarray(at, at + pixels), (q) => q * scale);
}

// Neuron j of layer l (after the first) in pixels: its row of that epoch's templates, which
// hold every layer after the first, one after the other.
function pixelTemplate(epoch, l, j) {
  if (l === 0 || !views.pixelTemplates.length) return null;
  const widths = DATA.widths, pixels = widths[0], deeper = widths.length - 2;
  let before = 0, neurons = 0;
  for (let k = 2; k < widths.length; k++) {
    if (k - 1 < l) before += widths[k];
    neurons += widths[k];
  }
  const at = (epoch * neurons + before + j) * pixels;
  const scale = DATA.pixel_template_scales[epoch * deeper + l - 1];
  return Array.from(views.pixelTemplates.subarray(at, at + pixels), (q) => q * scale);
}

function showOutput(probabilities, prediction, label) {
  const names = DATA.class_names;
  $("prediction").textContent = `Prediction: ${names[prediction]}` + (label === null ? "" : ` (label ${names[label]})`);
  const box = $("probabilities");
  box.replaceChildren(...probabilities.map((p, c) => {
    const bar = document.createElement("div");
    bar.className = "bar" + (c === prediction ? " top" : "");
    const name = document.createElement("span");
    name.textContent = DATA.class_names[c];
    const track = document.createElement("div");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.textContent = p.toFixed(4);
    bar.append(name, track, value);
    return bar;
  }));
}

function showLayers(now, init) {
  const box = $("layers");
  box.replaceChildren(...weights[page.epoch].map((layer, l) => {
    const section = document.createElement("div");
    section.className = "layer";
    const out = now.p.outputs[l];
    const { winner, cos } = now.layers[l];
    const title = document.createElement("h2");
    title.textContent = `${layerName(l)} (${layer.dout} neurons, reads ${l === 0 ? "pixels" : layerName(l - 1)})`;
    const row = document.createElement("div");
    row.className = "row";
    const cols = shape(layer.dout)[1];
    const grid = document.createElement("div");
    grid.className = "activations";
    grid.style.gridTemplateColumns = `repeat(${cols}, 14px)`;
    const top = Math.max(...out.map(Math.abs)) || 1;
    out.forEach((v, j) => {
      const cell = document.createElement("div");
      const [r, g, b] = l + 1 === weights[page.epoch].length ? diverging(v, top) : grey(Math.abs(v) / top);
      cell.style.background = `rgb(${r},${g},${b})`;
      cell.title = `neuron ${j}: ${v.toFixed(4)}`;
      if (j === winner) cell.classList.add("winner");
      if (page.selected && page.selected.layer === l && page.selected.neuron === j) cell.classList.add("selected");
      cell.addEventListener("click", () => select(l, j));
      grid.append(cell);
    });
    const weightsFigure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.className = "pixels big";
    paintWeights(canvas, column(layer, winner), shape(layer.din));
    canvas.style.width = "140px";
    canvas.style.height = `${Math.round((140 * shape(layer.din)[0]) / shape(layer.din)[1])}px`;
    const caption = document.createElement("figcaption");
    caption.textContent = `winner ${winner}'s weights, in the space of its input`;
    weightsFigure.append(canvas, caption);
    const numbers = document.createElement("p");
    numbers.className = "cos";
    numbers.textContent = `cos(input, winner's weights) = ${cos.toFixed(4)} now` + (init
      ? `, ${init.layers[l].cos.toFixed(4)} at initialisation (winner ${init.layers[l].winner} then).`
      : "; the initial weights are not known for these imported weights.");
    const legend = document.createElement("p");
    legend.className = "legend";
    legend.textContent = l + 1 === weights[page.epoch].length
      ? `logits, one per class in label order (${CLASSES <= 12 ? DATA.class_names.join(", ") : `${DATA.class_names[0]} … ${DATA.class_names[CLASSES - 1]}`}; red +, blue −); red outline: the winner, green: the neuron on the right. Click any neuron.`
      : "activations, brighter = stronger; red outline: the winner, green: the neuron on the right. Click any neuron.";
    row.append(grid, weightsFigure);
    section.append(title, row, legend, numbers);
    return section;
  }));
}

function select(layer, neuron) {
  page.selected = { layer, neuron };
  update();
}

function showNeuron(l, j) {
  const layer = weights[page.epoch][l];
  const v = view(page.epoch, l);
  const per = DATA.neighbours_per_neuron;
  $("neuron-title").textContent = `${layerName(l)}, neuron ${j} (${snapshotName(page.epoch)})`;
  const s = shape(layer.din);
  const canvas = $("neuron-weights");
  paintWeights(canvas, column(layer, j), s);
  canvas.style.width = "140px";
  canvas.style.height = `${Math.round((140 * s[0]) / s[1])}px`;
  $("neuron-weights-caption").textContent = `its weights in the space of ${l === 0 ? "pixels" : layerName(l - 1)} (${l === 0 ? PIXEL_LEGEND : "red +, blue −"})`;
  const template = pixelTemplate(page.epoch, l, j);
  $("neuron-template-figure").hidden = !template;
  if (template) {
    paintGradient($("neuron-template"), template);
    $("neuron-template-caption").textContent = `seen in pixels: its pixel template, the mean over test images of d z / d input (${PIXEL_LEGEND}; grey: pixels under 5% of test images ink)`;
  }
  const figures = [];
  for (let k = 0; k < per; k++) {
    const index = v.neighbours[j * per + k];
    const slot = train.indices.indexOf(index);
    const figure = document.createElement("figure");
    const c = document.createElement("canvas");
    c.className = "pixels";
    if (slot >= 0) paintImage(c, Array.from(train.image(slot), (b) => b / 255));
    const caption = document.createElement("figcaption");
    caption.textContent = `#${index}: ${v.cosines[j * per + k].toFixed(3)}`;
    c.addEventListener("click", () => { page.source = "train"; page.index = index; syncControls(); update(); });
    figure.append(c, caption);
    figures.push(figure);
  }
  $("neighbours").replaceChildren(...figures);
  const means = Array.from(v.classMeans.filter((_, i) => i % layer.dout === j));
  const top = Math.max(...means.map(Math.abs)) || 1;
  $("class-means").replaceChildren(...means.map((m, c) => {
    const bar = document.createElement("div");
    bar.className = m < 0 ? "bar negative" : "bar";
    const name = document.createElement("span");
    name.textContent = DATA.class_names[c];
    const track = document.createElement("div");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * Math.abs(m)) / top}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.textContent = m.toFixed(3);
    bar.append(name, track, value);
    return bar;
  }));
  drawHistogram(v, j, layer.dout, per);
}

// Every neuron's best-match cosine in the layer, this neuron's bin marked.
function drawHistogram(v, j, n, per) {
  const canvas = $("histogram");
  const ctx = canvas.getContext("2d");
  const bins = 20;
  const best = Array.from({ length: n }, (_, k) => v.cosines[k * per]);
  const counts = new Array(bins).fill(0);
  const bin = (c) => Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));
  best.forEach((c) => counts[bin(c)]++);
  const top = Math.max(...counts);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const w = canvas.width / bins, h = canvas.height - 20;
  counts.forEach((count, b) => {
    ctx.fillStyle = b === bin(best[j]) ? "#d62728" : "#9bb8d6";
    const height = (h * count) / top;
    ctx.fillRect(b * w + 1, h - height, w - 2, height);
  });
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  ctx.fillText("0", 0, canvas.height - 5);
  ctx.fillText("cosine", canvas.width / 2 - 18, canvas.height - 5);
  ctx.fillText("1", canvas.width - 8, canvas.height - 5);
  ctx.fillText(`this neuron: ${best[j].toFixed(3)}`, 4, 12);
}

// ---- controls and the URL fragment ------------------------------------------------------

function writeFragment() {
  const parts = [`source=${page.source}`];
  if (page.source === "draw") {
    parts.push("stroke=" + page.strokes.map((s) => s.map((p) => p.join(",")).join(",")).join(";"));
  } else {
    parts.push(`index=${page.index}`);
  }
  parts.push(`epoch=${DATA.epochs[page.epoch]}`);
  if (page.selected) parts.push(`neuron=${page.selected.layer}.${page.selected.neuron}`);
  history.replaceState(null, "", "#" + parts.join("&"));
}

function readFragment() {
  const args = new URLSearchParams(location.hash.slice(1));
  if (["train", "test", "draw"].includes(args.get("source"))) page.source = args.get("source");
  if (args.has("index")) page.index = Math.max(0, parseInt(args.get("index"), 10) || 0);
  else if (page.source === "train") page.index = DATA.probe_index;
  if (args.has("epoch")) {
    const e = DATA.epochs.indexOf(parseInt(args.get("epoch"), 10));
    page.epoch = e >= 0 ? e : DATA.epochs.length - 1;
  }
  const neuron = (args.get("neuron") ?? "").match(/^(\d+)\.(\d+)$/);
  if (neuron) {
    const [layer, j] = [Number(neuron[1]), Number(neuron[2])];
    if (layer + 1 < DATA.widths.length && j < DATA.widths[layer + 1]) page.selected = { layer, neuron: j };
  }
  if (args.has("stroke")) {
    page.strokes = args.get("stroke").split(";").filter((s) => s).map((s) => {
      const v = s.split(",").map(Number);
      const points = [];
      for (let i = 0; i + 1 < v.length; i += 2) points.push([v[i], v[i + 1]]);
      return points;
    });
  }
}

// A training run's snapshots are its epochs; an import's are named, having no epochs.
function snapshotName(e) {
  return DATA.snapshot_names ? `${DATA.snapshot_names[e]} weights` : `epoch ${DATA.epochs[e]}`;
}

function snapshotLabel(e) {
  return DATA.snapshot_names ? DATA.snapshot_names[e] : DATA.epochs[e];
}

function syncControls() {
  $("epoch").value = page.epoch;
  $("epoch-label").textContent = snapshotLabel(page.epoch);
  document.querySelectorAll("input[name=source]").forEach((r) => { r.checked = r.value === page.source; });
  $("index").value = page.index;
  $("picker").hidden = page.source === "draw";
  $("draw-box").classList.toggle("active", page.source === "draw");
  $("of").textContent = page.source === "test" ? `of ${test.count} test images` : `(${train.count} training images in this page)`;
  if (page.source === "draw") paintPad();
}

function step(direction) {
  if (page.source === "test") {
    page.index = (page.index + direction + test.count) % test.count;
  } else {
    const k = train.indices.indexOf(page.index);
    const next = k < 0 ? 0 : (k + direction + train.count) % train.count;
    page.index = train.indices[next];
  }
  syncControls();
  update();
}

function randomOfClass(c) {
  const set = page.source === "train" ? train : test;
  const candidates = [];
  for (let k = 0; k < set.count; k++) if (set.labels[k] === c) candidates.push(k);
  if (!candidates.length) return;
  const k = candidates[Math.floor(Math.random() * candidates.length)];
  page.index = page.source === "train" ? train.indices[k] : k;
  syncControls();
  update();
}

let padInk = null;

function paintPad() {
  const n = DATA.canvas;
  padInk = raster(page.strokes);
  paint($("pad"), n, n, padInk, grey);
}

function setUpPad() {
  const pad = $("pad");
  let stroke = null;
  const point = (e) => {
    const r = pad.getBoundingClientRect();
    // Hundredths of a canvas pixel, as the URL fragment writes them, so that a shared link
    // redraws exactly this drawing.
    const at = (v) => Math.round(v * 100) / 100;
    return [at(((e.clientX - r.left) * DATA.canvas) / r.width), at(((e.clientY - r.top) * DATA.canvas) / r.height)];
  };
  pad.addEventListener("pointerdown", (e) => {
    pad.setPointerCapture(e.pointerId);
    stroke = [point(e)];
    page.strokes.push(stroke);
    inkSegment(padInk, stroke[0], stroke[0]);
    paint(pad, DATA.canvas, DATA.canvas, padInk, grey);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!stroke) return;
    const p = point(e);
    inkSegment(padInk, stroke[stroke.length - 1], p);
    stroke.push(p);
    paint(pad, DATA.canvas, DATA.canvas, padInk, grey);
  });
  const end = () => { if (stroke) { stroke = null; update(); } };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  $("clear").addEventListener("click", () => { page.strokes = []; paintPad(); update(); });
}

function setUpControls() {
  const slider = $("epoch");
  slider.max = DATA.epochs.length - 1;
  if (DATA.snapshot_names) $("epoch-word").textContent = "weights";
  // A drawing is one channel; colour images have no pad.
  if (CHANNELS !== 1) {
    document.querySelector("input[name=source][value=draw]").closest("label").hidden = true;
    if (page.source === "draw") page.source = "test";
  }
  slider.addEventListener("input", () => { page.epoch = Number(slider.value); $("epoch-label").textContent = snapshotLabel(page.epoch); update(); });
  document.querySelectorAll("input[name=source]").forEach((r) => r.addEventListener("change", () => {
    page.source = r.value;
    if (page.source === "train" && train.indices.indexOf(page.index) < 0) page.index = DATA.probe_index;
    if (page.source === "test") page.index = Math.min(page.index, test.count - 1);
    syncControls();
    update();
  }));
  $("index").addEventListener("change", () => { page.index = Math.max(0, Number($("index").value) || 0); update(); });
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  $("classes").replaceChildren(document.createTextNode("random of class "), ...Array.from({ length: CLASSES }, (_, c) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = DATA.class_names[c];
    b.addEventListener("click", () => randomOfClass(c));
    return b;
  }));
  setUpPad();
}

async function load() {
  const pixels = DATA.widths[0];
  weights = unpackWeights(await inflate(DATA.weights));
  [test, train] = await Promise.all([unpackImages(DATA.test, pixels), unpackImages(DATA.train, pixels)]);
  inked = inkedPixels(test, pixels);
  // The class names' column fits the longest name.
  const longest = Math.max(...DATA.class_names.map((n) => n.length));
  document.documentElement.style.setProperty("--class-name", `${Math.max(1.4, 0.6 * longest + 0.4)}rem`);
  views = {
    neighbours: asU32(await inflate(DATA.neighbours)),
    cosines: asF32(await inflate(DATA.cosines)),
    classMeans: asF32(await inflate(DATA.class_means)),
    effective: new Int8Array((await inflate(DATA.effective)).buffer),
    pixelTemplates: new Int8Array((await inflate(DATA.pixel_templates)).buffer),
  };
  page.epoch = DATA.epochs.length - 1;
  readFragment();
  setUpControls();
  syncControls();
  page.selected ??= { layer: 0, neuron: winners(weights[page.epoch], currentInput()?.x ?? new Float64Array(pixels)).layers[0].winner };
  update();
}

window.addEventListener("hashchange", () => { readFragment(); syncControls(); update(); });
load().catch((error) => {
  $("status").textContent = `This page could not load its data: ${error.message}. It needs a current browser (DecompressionStream).`;
  throw error;
});
