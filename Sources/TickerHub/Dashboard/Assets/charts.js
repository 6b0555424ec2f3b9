// Canvas drawing shared by the watchlist (sparklines) and the operator page (line charts).
// No library: both pages must work with no internet, from assets inside the tickerhub binary.

// Sizes a canvas's backing store to its CSS size times the device pixel ratio, so lines stay sharp.
// Pass the CSS size when it is fixed: reading clientWidth after DOM writes forces a layout, and
// doing that once per row per frame is what makes tables stutter.
export function fitCanvas(canvas, cssWidth = canvas.clientWidth, cssHeight = canvas.clientHeight) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(cssWidth * ratio));
  const height = Math.max(1, Math.round(cssHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { context, width: cssWidth, height: cssHeight };
}

// A small price line: green if the window ends above where it started, red if below.
// The canvas's CSS size must be `width` x `height`.
export function drawSparkline(canvas, values, width, height) {
  const { context } = fitCanvas(canvas, width, height);
  context.clearRect(0, 0, width, height);
  if (values.length < 2) return;
  let low = Infinity, high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  const span = high - low || 1;
  const step = width / (values.length - 1);
  const first = values[0], last = values[values.length - 1];
  context.strokeStyle = last > first ? "#3fcf82" : last < first ? "#ef5d5d" : "#7f8fa0";
  context.lineWidth = 1.2;
  context.beginPath();
  values.forEach((v, i) => {
    const x = i * step, y = height - 2 - ((v - low) / span) * (height - 4);
    if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
}

// A time-series chart of one or more series sharing a y axis that starts at zero.
// `series`: [{label, color}]; push one value per series per sample with `add`.
export class LineChart {
  constructor(canvas, { series, unit = "", capacity = 300, format = formatNumber }) {
    this.canvas = canvas;
    this.series = series.map(s => ({ ...s, values: [] }));
    this.unit = unit;
    this.capacity = capacity;
    this.format = format;
    this.samples = 0;
  }

  add(...values) {
    this.series.forEach((s, i) => {
      s.values.push(values[i]);
      if (s.values.length > this.capacity) s.values.shift();
    });
    this.samples++;
    // For tests and curious operators: how many samples arrived, and the latest value.
    this.canvas.dataset.points = String(this.samples);
    this.canvas.dataset.last = String(values[0]);
  }

  draw() {
    const { context, width, height } = fitCanvas(this.canvas);
    const left = 52, right = 8, top = 22, bottom = 8;
    context.clearRect(0, 0, width, height);
    let max = 0;
    for (const s of this.series) for (const v of s.values) if (Number.isFinite(v) && v > max) max = v;
    max = niceCeiling(max);
    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const y = top + (height - top - bottom) * (1 - i / 4);
      context.strokeStyle = "#243040";
      context.beginPath(); context.moveTo(left, y); context.lineTo(width - right, y); context.stroke();
      context.fillStyle = "#7f8fa0";
      context.fillText(this.format(max * i / 4), 4, y);
    }
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const step = plotWidth / Math.max(1, this.capacity - 1);
    let legendX = left;
    for (const s of this.series) {
      const offset = this.capacity - s.values.length;
      context.strokeStyle = s.color;
      context.lineWidth = 1.5;
      context.beginPath();
      let started = false;
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) { started = false; return; }
        const x = left + (offset + i) * step, y = top + plotHeight * (1 - (max ? v / max : 0));
        if (started) context.lineTo(x, y); else { context.moveTo(x, y); started = true; }
      });
      context.stroke();
      const latest = s.values.length ? s.values[s.values.length - 1] : NaN;
      const legend = `${s.label} ${Number.isFinite(latest) ? this.format(latest) : "–"}${this.unit}`;
      context.fillStyle = s.color;
      context.fillText(legend, legendX, 10);
      legendX += context.measureText(legend).width + 16;
    }
  }
}

// 1, 2 or 5 times a power of ten, at or above `value`, so axis labels are round.
function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}

export function formatNumber(value) {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1e9) return (value / 1e9).toFixed(abs >= 1e10 ? 0 : 1) + "G";
  if (abs >= 1e6) return (value / 1e6).toFixed(abs >= 1e7 ? 0 : 1) + "M";
  if (abs >= 1e4) return (value / 1e3).toFixed(abs >= 1e5 ? 0 : 1) + "k";
  if (abs >= 100 || Number.isInteger(value)) return value.toFixed(0);
  return value.toFixed(abs >= 10 ? 1 : 2);
}

// Candlesticks, newest at the right: as many of the newest `bars` as fit, each {open, high, low,
// close} as numbers (for pixels only: the labels come from `label`, which formats the exact
// strings). Returns how many bars it drew. The canvas's CSS size must be `width` x `height`.
export function drawCandles(canvas, bars, width, height, label) {
  const { context } = fitCanvas(canvas, width, height);
  context.clearRect(0, 0, width, height);
  const right = 64, top = 10, bottom = 18, pitch = 7;
  const shown = bars.slice(-Math.max(1, Math.floor((width - right) / pitch)));
  if (!shown.length) return 0;
  let low = Infinity, high = -Infinity;
  for (const bar of shown) { if (bar.low < low) low = bar.low; if (bar.high > high) high = bar.high; }
  const span = high - low || Math.abs(high) * 1e-4 || 1;
  const y = value => top + (height - top - bottom) * (1 - (value - low) / span);
  context.font = "11px system-ui, sans-serif";
  context.textBaseline = "middle";
  context.fillStyle = "#7f8fa0";
  context.strokeStyle = "#243040";
  for (const [value, text] of [[high, label.high], [low, label.low]]) {
    context.beginPath(); context.moveTo(0, y(value)); context.lineTo(width - right, y(value)); context.stroke();
    context.fillText(text, width - right + 6, y(value));
  }
  context.textBaseline = "alphabetic";
  context.fillText(label.from, 0, height - 3);
  const toWidth = context.measureText(label.to).width;
  context.fillText(label.to, width - right - toWidth, height - 3);
  const x0 = width - right - shown.length * pitch;
  shown.forEach((bar, i) => {
    const x = x0 + i * pitch + pitch / 2;
    const color = bar.close > bar.open ? "#3fcf82" : bar.close < bar.open ? "#ef5d5d" : "#7f8fa0";
    context.strokeStyle = context.fillStyle = color;
    context.beginPath(); context.moveTo(x, y(bar.high)); context.lineTo(x, y(bar.low)); context.stroke();
    const bodyTop = y(Math.max(bar.open, bar.close)), bodyBottom = y(Math.min(bar.open, bar.close));
    context.globalAlpha = bar.closed ? 1 : 0.7;
    context.fillRect(x - 2.5, bodyTop, 5, Math.max(1, bodyBottom - bodyTop));
    context.globalAlpha = 1;
  });
  // The last price, across the chart, labelled on the axis.
  const last = shown[shown.length - 1];
  context.setLineDash([3, 3]);
  context.strokeStyle = "#5aa9e6";
  context.beginPath(); context.moveTo(0, y(last.close)); context.lineTo(width - right, y(last.close)); context.stroke();
  context.setLineDash([]);
  context.fillStyle = "#5aa9e6";
  context.textBaseline = "middle";
  context.fillText(label.last, width - right + 6, Math.min(height - bottom, Math.max(top + 12, y(last.close))));
  return shown.length;
}
