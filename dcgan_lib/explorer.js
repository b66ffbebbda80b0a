/*
 * The latent explorer of the DCGAN textbook, for the static HTML pages.
 *
 * Every <div class="dcgan-explorer" data-base="URL/"> on the page becomes an explorer:
 * two seeds give two Gaussian latents z_a and z_b, a slider walks t from 0 to 1 along
 * the linear or spherical path between them, and the generator (generator.onnx, run by
 * onnxruntime-web in WebAssembly) draws G(z) on a canvas as the slider moves. The files
 * sit in the data-base folder; dcgan_lib/explorer.py writes them.
 *
 * The explorer is drawn at once, its canvas showing data-poster (the image at t = 0,
 * computed when the page was built), and the browser fetches the runtime and the
 * generator only when the reader first uses a control.
 * window.dcganExplorer is the last explorer on the page (window.dcganExplorers lists all):
 *   latent()  the latent whose image is on the canvas (array of latent_dim numbers)
 *   state()   {seedA, seedB, t, mode}
 *   start()   fetch the generator now; a promise that resolves once it has drawn
 *   idle()    a promise that resolves once the canvas shows the current controls
 *   images    how many images the generator has drawn (the poster is not one)
 */
(function () {
  "use strict";

  var MAX_SEED = 4294967295;
  var PARALLEL_ANGLE = 1e-4; // radians; as dcgan_lib.latent: below it slerp is lerp
  var DISPLAY_PX = 256;
  var FILE_MESSAGE =
    "This explorer needs the page served over HTTP (python -m http.server in the " +
    "book's folder), not opened as a file.";
  var STYLE = [
    ".dcgan-explorer { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; align-items: center;",
    "  margin: 1rem 0; padding: 1rem; border: 1px solid var(--pst-color-border, #ccc);",
    "  border-radius: 0.5rem; background: var(--pst-color-surface, #f7f7f7); }",
    ".dcgan-explorer canvas { width: " + DISPLAY_PX + "px; height: " + DISPLAY_PX + "px;",
    "  image-rendering: pixelated; background: #000; border-radius: 0.25rem; flex: none; }",
    ".dcgan-explorer-controls { flex: 1 1 16rem; display: grid; gap: 0.6rem 0.8rem;",
    "  grid-template-columns: auto 1fr; align-items: center; }",
    ".dcgan-explorer-controls label { margin: 0; }",
    ".dcgan-explorer-controls div label { margin-right: 1rem; }",
    ".dcgan-explorer-controls input[type=number] { width: 7.5em; padding: 0.1em 0.3em; }",
    ".dcgan-explorer-controls input[type=range] { width: 12rem; vertical-align: middle; }",
    ".dcgan-explorer-controls button { padding: 0.1em 0.8em; }",
    ".dcgan-explorer-controls output { font-variant-numeric: tabular-nums; }",
    ".dcgan-explorer-norm { grid-column: 1 / -1; font-variant-numeric: tabular-nums;",
    "  white-space: pre; }",
    ".dcgan-explorer-status { flex: 1 1 100%; margin: 0; font-size: 0.9em;",
    "  color: var(--pst-color-text-muted, #555); }",
    ".dcgan-explorer p { margin: 0; }",
  ].join("\n");

  // ---- latents: a seeded PRNG, Box-Muller, and the two paths of dcgan_lib.latent ----

  /** mulberry32: a 32-bit seed -> a function returning uniform numbers in [0, 1). */
  function mulberry32(seed) {
    var a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      var t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** A latent of latentDim N(0, 1) coordinates (float32) from seed, by Box-Muller. */
  function gaussianLatent(seed, latentDim) {
    var uniform = mulberry32(seed);
    var z = new Float32Array(latentDim);
    for (var i = 0; i < latentDim; i += 2) {
      var u1 = 1 - uniform(); // in (0, 1], so log(u1) is finite
      var u2 = uniform();
      var radius = Math.sqrt(-2 * Math.log(u1));
      z[i] = radius * Math.cos(2 * Math.PI * u2);
      if (i + 1 < latentDim) z[i + 1] = radius * Math.sin(2 * Math.PI * u2);
    }
    return z;
  }

  function norm(z) {
    var sum = 0;
    for (var i = 0; i < z.length; i++) sum += z[i] * z[i];
    return Math.sqrt(sum);
  }

  /** (1 - t) z0 + t z1, computed in float64, returned as float32. */
  function lerp(z0, z1, t) {
    if (t === 0) return Float32Array.from(z0);
    if (t === 1) return Float32Array.from(z1);
    var z = new Float32Array(z0.length);
    for (var i = 0; i < z.length; i++) z[i] = (1 - t) * z0[i] + t * z1[i];
    return z;
  }

  /**
   * Spherical interpolation as dcgan_lib.latent.slerp: along the great circle between the
   * directions, with the norm interpolated linearly,
   *   ((1 - t)|z0| + t|z1|) (sin((1 - t)W) u0 + sin(tW) u1) / sin W.
   * For equal norms this is sin((1 - t)W)/sin W z0 + sin(tW)/sin W z1.
   */
  function slerp(z0, z1, t) {
    if (t === 0) return Float32Array.from(z0);
    if (t === 1) return Float32Array.from(z1);
    var n0 = norm(z0), n1 = norm(z1);
    if (n0 === 0 || n1 === 0) return lerp(z0, z1, t);
    var cos = 0;
    for (var i = 0; i < z0.length; i++) cos += (z0[i] / n0) * (z1[i] / n1);
    var omega = Math.acos(Math.min(1, Math.max(-1, cos)));
    if (omega > Math.PI - PARALLEL_ANGLE) {
      throw new Error("z_a and z_b point in opposite directions: the great circle between " +
                      "them is not unique, so the spherical path is undefined (use linear)");
    }
    if (omega < PARALLEL_ANGLE) return lerp(z0, z1, t);
    var a = Math.sin((1 - t) * omega) / Math.sin(omega);
    var b = Math.sin(t * omega) / Math.sin(omega);
    var length = (1 - t) * n0 + t * n1;
    var z = new Float32Array(z0.length);
    for (var j = 0; j < z.length; j++) z[j] = length * (a * (z0[j] / n0) + b * (z1[j] / n1));
    return z;
  }

  // ---- onnxruntime-web and the generator, loaded once per folder ----

  var runtimes = {}; // base URL -> promise of {meta, run}

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var existing = document.querySelector('script[src="' + src + '"]');
      if (existing && window.ort) return resolve();
      var script = document.createElement("script");
      script.src = src;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function fetchOk(url) {
    return fetch(url).then(function (response) {
      if (!response.ok) throw new Error(url + ": HTTP " + response.status);
      return response;
    });
  }

  function runtime(base) {
    if (!runtimes[base]) {
      runtimes[base] = loadScript(base + "ort.wasm.min.js").then(function () {
        window.ort.env.wasm.numThreads = 1; // threads need cross-origin isolation
        window.ort.env.wasm.wasmPaths = base;
        return Promise.all([
          fetchOk(base + "explorer.json").then(function (r) { return r.json(); }),
          fetchOk(base + "generator.onnx").then(function (r) { return r.arrayBuffer(); }),
        ]);
      }).then(function (loaded) {
        var meta = loaded[0];
        return window.ort.InferenceSession.create(new Uint8Array(loaded[1]), {
          executionProviders: ["wasm"],
        }).then(function (session) {
          var queue = Promise.resolve();
          function run(z) { // one inference at a time per session
            var result = queue.then(function () {
              var feeds = {};
              feeds[session.inputNames[0]] =
                new window.ort.Tensor("float32", z, [1, meta.latent_dim]);
              return session.run(feeds);
            }).then(function (outputs) { return outputs[session.outputNames[0]].data; });
            queue = result.catch(function () {});
            return result;
          }
          return { meta: meta, run: run };
        });
      });
    }
    return runtimes[base];
  }

  // ---- one explorer ----

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function toByte(x) { // [-1, 1] -> 0..255, as dcgan_lib.widgets.to_png
    return Math.round((Math.min(1, Math.max(-1, x)) + 1) * 127.5);
  }

  function addStyle() {
    if (document.getElementById("dcgan-explorer-style")) return;
    var style = element("style", { id: "dcgan-explorer-style" }, [STYLE]);
    document.head.appendChild(style);
  }

  function Explorer(box) {
    var base = box.getAttribute("data-base");
    var latentDim = Number(box.getAttribute("data-latent-dim"));
    var size = Number(box.getAttribute("data-image-size"));
    var weights = box.getAttribute("data-weights") || "";
    var id = "dcgan-explorer-" + (window.dcganExplorers.length + 1);
    function seedInput(which, value) {
      return element("input", { type: "number", min: "0", max: String(MAX_SEED), step: "1",
                                value: value, id: id + "-seed-" + which });
    }
    var seedA = seedInput("a", box.getAttribute("data-seed-a") || "0");
    var seedB = seedInput("b", box.getAttribute("data-seed-b") || "1");
    var random = element("button", { type: "button" }, ["random"]);
    var slider = element("input", { type: "range", min: "0", max: "1", step: "0.01",
                                    value: "0", id: id + "-t" });
    var tText = element("output", { for: id + "-t" }, ["0.00"]);
    var linear = element("input", { type: "radio", name: id + "-mode", value: "linear" });
    var spherical = element("input", { type: "radio", name: id + "-mode", value: "spherical" });
    spherical.checked = true;
    var canvas = element("canvas", { width: String(size), height: String(size), role: "img",
                                     "aria-label": "G(z) at t = 0.00" });
    var normText = element("p", { class: "dcgan-explorer-norm" });
    var status = element("p", { class: "dcgan-explorer-status", "aria-live": "polite" });
    box.textContent = "";
    var controls = element("div", { class: "dcgan-explorer-controls" }, [
      element("label", { for: seedA.id }, ["seed a"]), element("div", {}, [seedA]),
      element("label", { for: seedB.id }, ["seed b"]), element("div", {}, [seedB, " ", random]),
      element("label", { for: slider.id }, ["t"]), element("div", {}, [slider, " ", tText]),
      element("span", { id: id + "-path" }, ["path"]),
      element("div", { role: "radiogroup", "aria-labelledby": id + "-path" },
              [element("label", {}, [linear, " linear"]), " ",
               element("label", {}, [spherical, " spherical"])]),
      normText,
    ]);
    [canvas, controls, status].forEach(function (node) { box.appendChild(node); });
    var context = canvas.getContext("2d");

    var rt = null, loading = null, shown = null, wanted = false, busy = false, waiters = [];
    var api = {
      images: 0,
      firstImageMs: null,
      latent: function () { return shown ? Array.from(shown.z) : null; },
      shownState: function () { return shown ? shown.state : null; },
      state: state,
      start: function () { return load().then(api.idle); },
      idle: function () {
        if (!busy && !wanted && !loading) return Promise.resolve();
        return new Promise(function (resolve) { waiters.push(resolve); });
      },
    };

    function readSeed(input) {
      var text = input.value.trim();
      if (!/^[0-9]+$/.test(text) || Number(text) > MAX_SEED) return null;
      return Number(text);
    }

    function state() {
      return { seedA: readSeed(seedA), seedB: readSeed(seedB), t: Number(slider.value),
               mode: linear.checked ? "linear" : "spherical" };
    }

    function latentOf(s) {
      var za = gaussianLatent(s.seedA, latentDim);
      var zb = gaussianLatent(s.seedB, latentDim);
      return (s.mode === "linear" ? lerp : slerp)(za, zb, s.t);
    }

    function label(s, z) {
      tText.textContent = s.t.toFixed(2);
      canvas.setAttribute("aria-label", "G(z) at t = " + s.t.toFixed(2));
      normText.textContent = "\u2016z\u2016 = " + norm(z).toFixed(2) + "    \u221alatent_dim = " +
                             Math.sqrt(latentDim).toFixed(2);
    }

    function paint(pixels, channels) {
      var image = context.createImageData(size, size), area = size * size;
      for (var p = 0; p < area; p++) {
        for (var c = 0; c < 3; c++) {
          image.data[4 * p + c] = toByte(pixels[(channels === 1 ? 0 : c) * area + p]);
        }
        image.data[4 * p + 3] = 255;
      }
      context.putImageData(image, 0, 0);
    }

    function draw(s) {
      if (s.seedA === null || s.seedB === null) {
        status.textContent = "Each seed must be a whole number from 0 to " + MAX_SEED + ".";
        return Promise.resolve();
      }
      var z = latentOf(s), start = performance.now();
      return rt.run(z).then(function (pixels) {
        paint(pixels, rt.meta.channels);
        var ms = performance.now() - start;
        shown = { z: z, state: s };
        api.images += 1;
        if (api.firstImageMs === null) api.firstImageMs = performance.now();
        label(s, z);
        status.textContent = "Generator " + (weights ? "(" + weights + ") " : "") +
                             "drawn in your browser in " + ms.toFixed(0) + " ms.";
      });
    }

    function settle() {
      busy = false;
      if (!loading) waiters.splice(0).forEach(function (resolve) { resolve(); });
    }

    function pump() {
      busy = true;
      wanted = false;
      var s = state();
      tText.textContent = s.t.toFixed(2);
      var done;
      try {
        done = draw(s);
      } catch (error) { // slerp of opposite directions
        done = Promise.reject(error);
      }
      done.catch(function (error) { status.textContent = error.message; }).then(function () {
        if (wanted) return pump();
        settle();
      });
    }

    function request() {
      wanted = true;
      if (rt === null) { load(); return; }
      if (!busy) pump();
    }

    /** Fetch the runtime and the generator (once), then draw the current controls. */
    function load() {
      if (rt !== null) return Promise.resolve();
      if (loading) return loading;
      status.textContent = "Loading the generator into your browser\u2026";
      loading = runtime(base).then(function (runtimeReady) {
        rt = runtimeReady;
        loading = null;
        wanted = false;
        pump();
      }).catch(function (error) {
        loading = null;
        wanted = false;
        status.textContent = "The latent explorer could not start: " + error.message;
        settle();
      });
      return loading;
    }

    function showPoster() {
      var s = state(), z = latentOf(s);
      label(s, z);
      shown = { z: z, state: s };
      var poster = box.getAttribute("data-poster");
      if (!poster) return;
      var image = new Image();
      image.onload = function () { context.drawImage(image, 0, 0); };
      image.src = poster;
    }

    showPoster();
    if (location.protocol === "file:") {
      status.textContent = FILE_MESSAGE;
      [seedA, seedB, random, slider, linear, spherical].forEach(function (control) {
        control.disabled = true;
      });
      return api;
    }
    status.textContent = "Move the slider or change a seed: the generator then runs in " +
                         "your browser (a one-time download of its WebAssembly runtime).";
    random.addEventListener("click", function () {
      seedA.value = String(Math.floor(Math.random() * 2147483648));
      seedB.value = String(Math.floor(Math.random() * 2147483648));
      request();
    });
    [seedA, seedB, slider].forEach(function (input) { input.addEventListener("input", request); });
    [linear, spherical].forEach(function (input) { input.addEventListener("change", request); });
    // the first touch of a control starts the download, before its value even changes
    controls.addEventListener("pointerdown", function () { load(); });
    controls.addEventListener("keydown", function () { load(); });
    return api;
  }

  function init() {
    window.dcganExplorers = window.dcganExplorers || [];
    addStyle();
    document.querySelectorAll(".dcgan-explorer:not([data-started])").forEach(function (box) {
      box.setAttribute("data-started", "");
      var explorer = Explorer(box);
      window.dcganExplorers.push(explorer);
      window.dcganExplorer = explorer;
    });
  }

  window.dcganExplorerInit = init;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
