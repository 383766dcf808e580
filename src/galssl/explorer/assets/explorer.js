/* galssl galaxy explorer: the UMAP of one embedding as an interactive scatter, with thumbnails, labels and the
 * nearest neighbours precomputed by galssl (src/galssl/explorer/). Data: window.GALSSL, from data.js.
 *
 * Plain hand-written JavaScript, no framework: the page must open from file:// with no network, no server and no
 * build step, and drawing 10^5 points smoothly needs only a canvas, typed arrays and a spatial grid, which a
 * framework would not make faster but would add a dependency to pin, vendor and audit.
 *
 * Drawing: every point is stamped into one ImageData buffer (no per-point DOM, no per-point canvas call), then
 * highlights are drawn on top. Hover: a uniform grid over the UMAP plane finds the nearest point under the cursor by
 * looking only at the cells around it. Tests drive the page through window.galsslExplorer (bottom of this file).
 */
(function () {
  "use strict";

  var D = window.GALSSL;
  if (!D || D.version !== 1) {
    document.body.textContent = "galssl explorer: data.js is missing or from another galssl version; rebuild it.";
    return;
  }

  var PICK_RADIUS_PX = 8;        // hover/click reach around the cursor (CSS px)
  var MISSING = "#4a5260";       // colour of points without a value in the colour-by column
  var BACKGROUND = "#0b0f17";
  var MAX_LEGEND_ROWS = 24;
  var ZOOM_STEP = 0.0015;        // zoom factor per wheel delta unit: exp(-deltaY * ZOOM_STEP)

  // ---- data -------------------------------------------------------------------------------------------------
  function decode(text, Type) {
    var binary = atob(text), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  var n = D.n_points;
  var ids = D.object_id;
  var X = decode(D.x, Float32Array), Y = decode(D.y, Float32Array);
  var RA = decode(D.ra, Float64Array), DEC = decode(D.dec, Float64Array);
  var K = D.neighbours.k;
  var NB = decode(D.neighbours.rows, Int32Array), NBSIM = decode(D.neighbours.similarity, Float32Array);
  var TILE = decode(D.sprites.tile, Int32Array);
  var TILE_PX = D.sprites.tile_px, TILES_PER_SIDE = D.sprites.tiles_per_side;
  var PER_SHEET = TILES_PER_SIDE * TILES_PER_SIDE;
  var columns = D.columns.map(function (column) {
    if (column.kind === "category") column.data = decode(column.codes, Int16Array);
    if (column.kind === "number") column.data = decode(column.values, Float32Array);
    return column;
  });
  var columnByName = {};
  columns.forEach(function (column) { columnByName[column.name] = column; });
  var indexOfId = new Map();
  for (var i = 0; i < n; i++) indexOfId.set(ids[i], i);

  var xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (i = 0; i < n; i++) {
    if (X[i] < xmin) xmin = X[i]; if (X[i] > xmax) xmax = X[i];
    if (Y[i] < ymin) ymin = Y[i]; if (Y[i] > ymax) ymax = Y[i];
  }
  if (!(xmax > xmin)) { xmin -= 1; xmax += 1; }
  if (!(ymax > ymin)) { ymin -= 1; ymax += 1; }

  // ---- colours (ABGR words, the byte order of ImageData on little-endian machines) --------------------------------
  function rgbOf(hex) {
    var v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  function word(rgb) { return ((255 << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]) >>> 0; }
  var BG_RGB = rgbOf(BACKGROUND);
  function dim(rgb) { return rgb.map(function (c, j) { return Math.round(0.4 * c + 0.6 * BG_RGB[j]); }); }
  var CATEGORICAL = D.palettes.categorical.map(rgbOf), RAMP = D.palettes.ramp.map(rgbOf), MISSING_RGB = rgbOf(MISSING);

  var colourColumn = null;
  var colourWords = new Uint32Array(n), dimWords = new Uint32Array(n);
  var drawOrder = new Int32Array(n);
  var pointRgb = new Array(n);

  function colourOf(column, index) {
    if (column.kind === "category") {
      var code = column.data[index];
      return code < 0 ? MISSING_RGB : CATEGORICAL[code % CATEGORICAL.length];
    }
    var value = column.data[index];
    if (!isFinite(value)) return MISSING_RGB;
    var t = (value - column.range[0]) / (column.range[1] - column.range[0]);
    return RAMP[Math.max(0, Math.min(255, Math.round(t * 255)))];
  }

  function setColourBy(name) {
    var column = columnByName[name];
    if (!column || column.kind === "text") return false;
    colourColumn = column;
    var missing = [], present = [];
    for (var i = 0; i < n; i++) {
      var rgb = colourOf(column, i);
      pointRgb[i] = rgb;
      colourWords[i] = word(rgb);
      dimWords[i] = word(dim(rgb));
      (rgb === MISSING_RGB ? missing : present).push(i);
    }
    if (column.kind === "number") {  // high values on top
      present.sort(function (a, b) { return column.data[a] - column.data[b]; });
    }
    drawOrder.set(missing.concat(present));
    selector.value = name;
    renderLegend();
    requestRender();
    return true;
  }

  // ---- DOM --------------------------------------------------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };
  var area = $("map-area"), canvas = $("map"), ctx = canvas.getContext("2d");
  var tooltip = $("tooltip"), legend = $("legend"), selector = $("colour-by");
  var panelEmpty = $("selection-empty"), panelSelection = $("selection");

  document.title = "galssl explorer: " + D.title;
  $("title").textContent = D.title + " — UMAP";
  $("stats").textContent = n.toLocaleString("en") + " galaxies" + (D.n_objects > n ?
    " (random subset of " + D.n_objects.toLocaleString("en") + ")" : "") + " · " + K + " neighbours each";

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function prettyName(name) {
    return name.replace(/__/g, ": ").replace(/_fraction$/, " (fraction)").replace(/_/g, " ");
  }

  function formatValue(column, index) {
    if (column.kind === "category") {
      var code = column.data[index];
      return code < 0 ? "—" : column.categories[code];
    }
    if (column.kind === "text") return column.text[index] || "—";
    var v = column.data[index];
    if (!isFinite(v)) return "—";
    if (/_fraction$/.test(column.name)) return v.toFixed(2);
    if (column.name === "redshift" || /(^|_)z$/.test(column.name)) return v.toFixed(4);
    var size = Math.abs(v);
    if (size !== 0 && (size < 1e-3 || size >= 1e5)) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }

  function formatSky(i) {
    if (!isFinite(RA[i])) return "—";
    return "RA " + RA[i].toFixed(5) + "°  Dec " + (DEC[i] >= 0 ? "+" : "") + DEC[i].toFixed(5) + "°";
  }

  // A galaxy's thumbnail: its tile of a sprite sheet, as a CSS background (an image loads from file://, a fetch call would not).
  function thumbnail(index, size) {
    var tile = TILE[index], sheet = Math.floor(tile / PER_SHEET);
    var column = tile % TILES_PER_SIDE, row = Math.floor((tile % PER_SHEET) / TILES_PER_SIDE);
    var info = D.sprites.sheets[sheet], scale = size / TILE_PX;
    var node = element("div", "thumb");
    node.style.width = size + "px";
    node.style.height = size + "px";
    node.style.backgroundImage = 'url("' + info.file + '")';
    node.style.backgroundSize = info.width * scale + "px " + info.height * scale + "px";
    node.style.backgroundPosition = -column * TILE_PX * scale + "px " + -row * TILE_PX * scale + "px";
    node.dataset.objectId = ids[index];
    node.dataset.sheet = String(sheet);
    node.title = ids[index];
    loadSheet(sheet);
    return node;
  }

  var sheetImages = [];
  function loadSheet(sheet) {
    if (!sheetImages[sheet]) {
      sheetImages[sheet] = new Image();
      sheetImages[sheet].src = D.sprites.sheets[sheet].file;
    }
    return sheetImages[sheet];
  }

  function labelTable(index, names) {
    var table = element("table", "labels");
    names.forEach(function (name) {
      var column = columnByName[name];
      if (!column) return;
      var row = table.insertRow();
      row.insertCell().textContent = prettyName(name);
      row.insertCell().textContent = formatValue(column, index);
    });
    return table;
  }

  function tooltipColumns() {
    var names = D.tooltip.slice();
    if (colourColumn && names.indexOf(colourColumn.name) < 0) names.push(colourColumn.name);
    return names;
  }

  // ---- selector and legend --------------------------------------------------------------------------------------
  (function fillSelector() {
    var groups = {};
    columns.forEach(function (column) {
      if (column.kind === "text") return;
      var label = column.group === "Labels" ? (column.kind === "category" ? "Categories" : "Numbers") : column.group;
      if (!groups[label]) groups[label] = element("optgroup");
      groups[label].label = label;
      var option = element("option", "", prettyName(column.name));
      option.value = column.name;
      groups[label].appendChild(option);
    });
    ["Categories", "Numbers", "Galaxy Zoo vote fractions", "Galaxy Zoo vote counts"].forEach(function (label) {
      if (groups[label]) selector.appendChild(groups[label]);
    });
    selector.addEventListener("change", function () { setColourBy(selector.value); });
  })();

  function renderLegend() {
    var column = colourColumn;
    legend.textContent = "";
    legend.appendChild(element("div", "legend-title", prettyName(column.name)));
    var missing = 0;
    if (column.kind === "category") {
      var counts = new Array(column.categories.length).fill(0);
      for (var i = 0; i < n; i++) {
        if (column.data[i] < 0) missing++; else counts[column.data[i]]++;
      }
      var order = counts.map(function (_, code) { return code; })
        .sort(function (a, b) { return counts[b] - counts[a] || a - b; });
      order.slice(0, MAX_LEGEND_ROWS).forEach(function (code) {
        var row = element("div", "legend-row");
        var swatch = element("span", "swatch");
        swatch.style.background = D.palettes.categorical[code % CATEGORICAL.length];
        row.appendChild(swatch);
        row.appendChild(element("span", "", column.categories[code]));
        row.appendChild(element("span", "count", counts[code].toLocaleString("en")));
        legend.appendChild(row);
      });
      if (order.length > MAX_LEGEND_ROWS) {
        legend.appendChild(element("div", "note", (order.length - MAX_LEGEND_ROWS) + " more categories"));
      }
    } else {
      var ramp = element("canvas");
      ramp.width = 256; ramp.height = 1;
      var rampContext = ramp.getContext("2d");
      D.palettes.ramp.forEach(function (hex, x) { rampContext.fillStyle = hex; rampContext.fillRect(x, 0, 1, 1); });
      legend.appendChild(ramp);
      var ticks = element("div", "ramp-ticks");
      [0, 0.5, 1].forEach(function (t) {
        var value = column.range[0] + t * (column.range[1] - column.range[0]);
        ticks.appendChild(element("span", "", String(Number(value.toPrecision(3)))));
      });
      legend.appendChild(ticks);
      for (var j = 0; j < n; j++) if (!isFinite(column.data[j])) missing++;
      legend.appendChild(element("div", "note", "colour range: 1st–99th percentile"));
    }
    if (missing) {
      var row = element("div", "legend-row");
      var swatch = element("span", "swatch");
      swatch.style.background = MISSING;
      row.appendChild(swatch);
      row.appendChild(element("span", "", "no value"));
      row.appendChild(element("span", "count", missing.toLocaleString("en")));
      legend.appendChild(row);
    }
  }

  // ---- view: world (UMAP) <-> screen (CSS px of the canvas) ----------------------------------------------------
  var view = { cx: 0, cy: 0, scale: 1 }, homeScale = 1;
  var width = 1, height = 1, ratio = 1;

  function fitView() {
    view.cx = (xmin + xmax) / 2;
    view.cy = (ymin + ymax) / 2;
    view.scale = 0.92 * Math.min(width / (xmax - xmin), height / (ymax - ymin));
    homeScale = view.scale;
    requestRender();
  }
  function toScreenX(x) { return (x - view.cx) * view.scale + width / 2; }
  function toScreenY(y) { return height / 2 - (y - view.cy) * view.scale; }
  function toWorldX(sx) { return (sx - width / 2) / view.scale + view.cx; }
  function toWorldY(sy) { return view.cy - (sy - height / 2) / view.scale; }

  function resize() {
    ratio = window.devicePixelRatio || 1;
    var first = width === 1 && height === 1;
    width = Math.max(1, area.clientWidth);
    height = Math.max(1, area.clientHeight);
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    image = null;
    if (first) fitView(); else requestRender();
  }

  // ---- spatial grid for hit-testing ------------------------------------------------------------------------------
  var GRID = Math.max(8, Math.min(1024, Math.ceil(Math.sqrt(n / 2))));
  var cellWidth = (xmax - xmin) / GRID, cellHeight = (ymax - ymin) / GRID;
  var cellStart = new Int32Array(GRID * GRID + 1), cellItems = new Int32Array(n);
  (function buildGrid() {
    var cellOfPoint = new Int32Array(n);
    for (var i = 0; i < n; i++) {
      var gx = Math.min(GRID - 1, Math.floor((X[i] - xmin) / cellWidth));
      var gy = Math.min(GRID - 1, Math.floor((Y[i] - ymin) / cellHeight));
      cellOfPoint[i] = gy * GRID + gx;
      cellStart[cellOfPoint[i] + 1]++;
    }
    for (var c = 0; c < GRID * GRID; c++) cellStart[c + 1] += cellStart[c];
    var fill = cellStart.slice(0, GRID * GRID);
    for (i = 0; i < n; i++) cellItems[fill[cellOfPoint[i]]++] = i;
  })();

  // Nearest point within PICK_RADIUS_PX of screen position (sx, sy) in canvas CSS px, or -1.
  function pick(sx, sy) {
    var started = performance.now();
    var wx = toWorldX(sx), wy = toWorldY(sy), reach = PICK_RADIUS_PX / view.scale;
    var gx0 = Math.max(0, Math.floor((wx - reach - xmin) / cellWidth));
    var gx1 = Math.min(GRID - 1, Math.floor((wx + reach - xmin) / cellWidth));
    var gy0 = Math.max(0, Math.floor((wy - reach - ymin) / cellHeight));
    var gy1 = Math.min(GRID - 1, Math.floor((wy + reach - ymin) / cellHeight));
    var best = -1, bestDistance = reach * reach;
    for (var gy = gy0; gy <= gy1; gy++) {
      for (var gx = gx0; gx <= gx1; gx++) {
        var cell = gy * GRID + gx;
        for (var k = cellStart[cell]; k < cellStart[cell + 1]; k++) {
          var i = cellItems[k], dx = X[i] - wx, dy = Y[i] - wy, d = dx * dx + dy * dy;
          if (d <= bestDistance) { bestDistance = d; best = i; }
        }
      }
    }
    stats.lastPickMs = performance.now() - started;
    return best;
  }

  // ---- drawing -------------------------------------------------------------------------------------------------
  var image = null, pixels = null, pending = false;
  var hovered = -1, selected = -1;
  var stats = { draws: 0, lastDrawMs: 0, drawMs: [], lastPickMs: 0 };

  function requestRender() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  function stampOffsets(radius) {
    var offsets = [], r = Math.ceil(radius);
    for (var dy = -r; dy <= r; dy++) {
      for (var dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= radius * radius + 0.5) offsets.push(dx, dy);
    }
    return offsets;
  }

  function pointRadius() {  // device px: small when crowded, growing as one zooms in
    var base = n > 20000 ? 1.1 : n > 3000 ? 1.6 : 2.4;
    return ratio * Math.min(5, base * Math.max(1, Math.pow(view.scale / homeScale, 0.35)));
  }

  function draw() {
    var started = performance.now();
    var w = canvas.width, h = canvas.height;
    if (!image || image.width !== w || image.height !== h) {
      image = ctx.createImageData(w, h);
      pixels = new Uint32Array(image.data.buffer);
    }
    pixels.fill(word(BG_RGB));
    var s = view.scale * ratio, ox = w / 2 - view.cx * s, oy = h / 2 + view.cy * s;
    var radius = pointRadius(), offsets = stampOffsets(radius), margin = Math.ceil(radius);
    var words = selected >= 0 ? dimWords : colourWords;
    var m = offsets.length;
    for (var o = 0; o < n; o++) {
      var i = drawOrder[o];
      var px = Math.round(X[i] * s + ox), py = Math.round(oy - Y[i] * s);
      if (px < -margin || py < -margin || px >= w + margin || py >= h + margin) continue;
      var c = words[i];
      if (px >= margin && py >= margin && px < w - margin && py < h - margin) {
        var base = py * w + px;
        for (var q = 0; q < m; q += 2) pixels[base + offsets[q + 1] * w + offsets[q]] = c;
      } else {
        for (q = 0; q < m; q += 2) {
          var x = px + offsets[q], y = py + offsets[q + 1];
          if (x >= 0 && y >= 0 && x < w && y < h) pixels[y * w + x] = c;
        }
      }
    }
    ctx.putImageData(image, 0, 0);
    ctx.save();
    ctx.scale(ratio, ratio);
    if (selected >= 0) drawSelection();
    if (hovered >= 0) ring(hovered, 8, "#6cb6ff", 2);
    ctx.restore();
    $("axes").textContent = "UMAP of " + D.embedding + " · zoom ×" + (view.scale / homeScale).toFixed(1);
    stats.draws++;
    stats.lastDrawMs = performance.now() - started;
    stats.drawMs.push(stats.lastDrawMs);
    if (stats.drawMs.length > 600) stats.drawMs.shift();
  }

  function ring(index, r, colour, lineWidth) {
    ctx.beginPath();
    ctx.arc(toScreenX(X[index]), toScreenY(Y[index]), r, 0, 2 * Math.PI);
    ctx.strokeStyle = colour;
    ctx.lineWidth = lineWidth;
    ctx.stroke();
  }

  function dot(index, r) {
    var rgb = pointRgb[index];
    ctx.beginPath();
    ctx.arc(toScreenX(X[index]), toScreenY(Y[index]), r, 0, 2 * Math.PI);
    ctx.fillStyle = "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")";
    ctx.fill();
  }

  function drawSelection() {
    var sx = toScreenX(X[selected]), sy = toScreenY(Y[selected]);
    ctx.strokeStyle = "rgba(255, 209, 102, 0.55)";
    ctx.lineWidth = 1;
    for (var j = 0; j < K; j++) {
      var other = NB[selected * K + j];
      ctx.beginPath();
      ctx.moveTo(sx, sy);
      ctx.lineTo(toScreenX(X[other]), toScreenY(Y[other]));
      ctx.stroke();
    }
    for (j = 0; j < K; j++) {
      var neighbour = NB[selected * K + j];
      dot(neighbour, 3);
      ring(neighbour, 6, "#ffd166", 1.5);
    }
    dot(selected, 4);
    ring(selected, 10, "#ffffff", 2.5);
  }

  // ---- hover tooltip and selection panel ------------------------------------------------------------------------
  function showTooltip(index, sx, sy) {
    tooltip.textContent = "";
    tooltip.dataset.objectId = ids[index];
    tooltip.appendChild(thumbnail(index, 2 * TILE_PX));
    var text = element("div");
    text.appendChild(element("div", "object-id", ids[index]));
    if (isFinite(RA[index])) text.appendChild(element("div", "sky", formatSky(index)));
    text.appendChild(labelTable(index, tooltipColumns()));
    tooltip.appendChild(text);
    tooltip.hidden = false;
    var boxWidth = tooltip.offsetWidth, boxHeight = tooltip.offsetHeight;
    var left = sx + 16, top = sy + 16;
    if (left + boxWidth > width - 4) left = sx - boxWidth - 16;
    if (top + boxHeight > height - 4) top = sy - boxHeight - 16;
    tooltip.style.left = Math.max(4, left) + "px";
    tooltip.style.top = Math.max(4, top) + "px";
  }

  function hideTooltip() {
    tooltip.hidden = true;
    delete tooltip.dataset.objectId;
  }

  function setHovered(index, sx, sy) {
    if (index !== hovered) {
      hovered = index;
      requestRender();
    }
    if (index >= 0) showTooltip(index, sx, sy); else hideTooltip();
  }

  function select(index) {
    selected = index;
    panelEmpty.hidden = index >= 0;
    panelSelection.hidden = index < 0;
    if (index >= 0) renderSelection(index);
    requestRender();
  }

  function renderSelection(index) {
    var card = $("selected-card");
    card.textContent = "";
    var top = element("div", "card-top");
    top.appendChild(thumbnail(index, 3 * TILE_PX));
    var text = element("div");
    text.appendChild(element("div", "object-id", ids[index]));
    if (isFinite(RA[index])) {
      text.appendChild(element("div", "sky", "RA " + RA[index].toFixed(5) + "°"));
      text.appendChild(element("div", "sky", "Dec " + (DEC[index] >= 0 ? "+" : "") + DEC[index].toFixed(5) + "°"));
    }
    if (columnByName.split) text.appendChild(element("div", "sky", "split: " + formatValue(columnByName.split, index)));
    top.appendChild(text);
    card.appendChild(top);
    card.appendChild(labelTable(index, tooltipColumns()));
    var details = element("details");
    details.appendChild(element("summary", "", "all " + columns.length + " labels"));
    details.appendChild(labelTable(index, columns.map(function (column) { return column.name; })));
    card.appendChild(details);

    $("neighbours-title").textContent = K + " nearest neighbours in " + D.embedding + " (cosine similarity)";
    var grid = $("neighbours");
    grid.textContent = "";
    for (var j = 0; j < K; j++) {
      var other = NB[index * K + j];
      var cell = element("div", "neighbour");
      cell.dataset.objectId = ids[other];
      cell.appendChild(thumbnail(other, 2 * TILE_PX));
      cell.appendChild(element("div", "nid", ids[other]));
      var meta = element("div", "nmeta");
      var swatch = element("span", "swatch");
      var rgb = pointRgb[other];
      swatch.style.background = "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")";
      meta.appendChild(swatch);
      meta.appendChild(element("span", "", NBSIM[index * K + j].toFixed(3) + " · " + formatValue(colourColumn, other)));
      cell.appendChild(meta);
      cell.addEventListener("click", select.bind(null, other));
      grid.appendChild(cell);
    }
  }

  function centreOn(index) {
    view.cx = X[index];
    view.cy = Y[index];
    view.scale = Math.max(view.scale, 3 * homeScale);
    requestRender();
  }

  function find(query) {
    query = String(query).trim();
    var index = indexOfId.has(query) ? indexOfId.get(query) : -1;
    if (index < 0 && query) {  // a unique case-insensitive prefix also finds it
      var lower = query.toLowerCase(), found = [];
      for (var i = 0; i < n && found.length < 2; i++) if (ids[i].toLowerCase().indexOf(lower) === 0) found.push(i);
      if (found.length === 1) index = found[0];
    }
    $("search-message").textContent = index < 0 ? (query ? "no galaxy " + query + " on the map" : "") : "";
    if (index >= 0) {
      centreOn(index);
      select(index);
    }
    return index >= 0 ? ids[index] : null;
  }

  // ---- input ----------------------------------------------------------------------------------------------------
  var drag = null;
  function local(event) {
    var box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }
  canvas.addEventListener("mousedown", function (event) {
    if (event.button !== 0) return;
    var at = local(event);
    drag = { x: at[0], y: at[1], cx: view.cx, cy: view.cy, moved: false };
  });
  window.addEventListener("mousemove", function (event) {
    var at = local(event);
    if (drag) {
      var dx = at[0] - drag.x, dy = at[1] - drag.y;
      if (!drag.moved && dx * dx + dy * dy > 9) {
        drag.moved = true;
        canvas.classList.add("dragging");
        setHovered(-1);
      }
      if (drag.moved) {
        view.cx = drag.cx - dx / view.scale;
        view.cy = drag.cy + dy / view.scale;
        requestRender();
      }
      return;
    }
    if (event.target !== canvas) return;
    setHovered(pick(at[0], at[1]), at[0], at[1]);
  });
  window.addEventListener("mouseup", function (event) {
    if (!drag) return;
    var wasDrag = drag.moved;
    drag = null;
    canvas.classList.remove("dragging");
    if (wasDrag || event.target !== canvas) return;
    var at = local(event);
    select(pick(at[0], at[1]));
  });
  canvas.addEventListener("mouseleave", function () { if (!drag) setHovered(-1); });
  canvas.addEventListener("wheel", function (event) {
    event.preventDefault();
    var at = local(event);
    zoomAt(at[0], at[1], Math.exp(-event.deltaY * ZOOM_STEP));
    if (hovered >= 0) setHovered(pick(at[0], at[1]), at[0], at[1]);
  }, { passive: false });

  function zoomAt(sx, sy, factor) {
    var wx = toWorldX(sx), wy = toWorldY(sy);
    view.scale = Math.max(homeScale / 4, Math.min(homeScale * 2000, view.scale * factor));
    view.cx = wx - (sx - width / 2) / view.scale;
    view.cy = wy + (sy - height / 2) / view.scale;
    requestRender();
  }

  $("search").addEventListener("submit", function (event) {
    event.preventDefault();
    find($("search-input").value);
  });
  $("reset").addEventListener("click", function () { fitView(); });
  window.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { select(-1); setHovered(-1); }
  });
  if (window.ResizeObserver) new ResizeObserver(resize).observe(area);
  window.addEventListener("resize", resize);

  resize();
  setColourBy(columnByName[D.colour_by] ? D.colour_by : (columns.find(function (c) { return c.kind !== "text"; }) ||
    { name: "" }).name);
  if (!colourColumn) {  // no label column at all: one colour
    colourColumn = { name: "none", kind: "category", categories: ["galaxy"], data: new Int16Array(n) };
    for (i = 0; i < n; i++) { pointRgb[i] = CATEGORICAL[0]; colourWords[i] = word(CATEGORICAL[0]); dimWords[i] = word(dim(CATEGORICAL[0])); drawOrder[i] = i; }
    renderLegend();
  }
  draw();
  stats.readyMs = performance.now();  // page start to first frame, data decoding included

  // Decode the sprite sheets one after the other in the background, so the first hover over a region of the map
  // does not wait for a large image to be read and decoded.
  (function preloadSheets(sheet) {
    if (sheet >= D.sprites.sheets.length) { stats.sheetsReadyMs = performance.now(); return; }
    var image = loadSheet(sheet);
    (image.decode ? image.decode() : Promise.resolve()).catch(function () {}).then(function () {
      setTimeout(preloadSheets, 0, sheet + 1);
    });
  })(0);

  // ---- the API tests and benchmarks drive the page through -----------------------------------------------------
  function indexOf(idOrIndex) {
    if (typeof idOrIndex === "number") return idOrIndex;
    return indexOfId.has(idOrIndex) ? indexOfId.get(idOrIndex) : -1;
  }
  window.galsslExplorer = {
    ready: true,
    pointCount: function () { return n; },
    k: function () { return K; },
    objectId: function (index) { return ids[index]; },
    indexOf: indexOf,
    /* Viewport (client) CSS px of a point, by object_id or index, and whether it is inside the map. */
    project: function (idOrIndex) {
      var index = indexOf(idOrIndex), box = canvas.getBoundingClientRect();
      var sx = toScreenX(X[index]), sy = toScreenY(Y[index]);
      return { x: box.left + sx, y: box.top + sy, visible: sx >= 0 && sy >= 0 && sx < width && sy < height };
    },
    hoveredId: function () { return hovered >= 0 ? ids[hovered] : null; },
    selectedId: function () { return selected >= 0 ? ids[selected] : null; },
    neighbourIds: function (idOrIndex) {
      var index = idOrIndex === undefined ? selected : indexOf(idOrIndex), out = [];
      for (var j = 0; index >= 0 && j < K; j++) out.push(ids[NB[index * K + j]]);
      return out;
    },
    select: function (idOrIndex) { select(indexOf(idOrIndex)); return this.selectedId(); },
    find: find,
    colourBy: function (name) { if (name !== undefined) setColourBy(name); return colourColumn.name; },
    colourColumns: function () { return columns.filter(function (c) { return c.kind !== "text"; }).map(function (c) { return c.name; }); },
    tile: function (idOrIndex) {
      var tile = TILE[indexOf(idOrIndex)];
      return { sheet: Math.floor(tile / PER_SHEET), column: tile % TILES_PER_SIDE,
               row: Math.floor((tile % PER_SHEET) / TILES_PER_SIDE), file: D.sprites.sheets[Math.floor(tile / PER_SHEET)].file };
    },
    sheetLoaded: function (sheet) { var im = loadSheet(sheet); return im.complete && im.naturalWidth > 0; },
    view: function () { return { cx: view.cx, cy: view.cy, scale: view.scale, home: homeScale }; },
    panBy: function (dx, dy) { view.cx -= dx / view.scale; view.cy += dy / view.scale; requestRender(); },
    zoomAt: zoomAt,
    reset: fitView,
    drawNow: function () { draw(); return stats.lastDrawMs; },
    pickAt: function (sx, sy) { var index = pick(sx, sy); return index >= 0 ? ids[index] : null; },
    stats: function () { return { draws: stats.draws, lastDrawMs: stats.lastDrawMs, drawMs: stats.drawMs.slice(),
                                  lastPickMs: stats.lastPickMs, readyMs: stats.readyMs,
                                  sheetsReadyMs: stats.sheetsReadyMs || null }; }
  };
})();
