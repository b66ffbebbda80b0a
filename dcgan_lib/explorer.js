/*
 * The latent explorer of the DCGAN textbook, for the static HTML pages.
 *
 * Every <div class="dcgan-explorer" data-base="URL/"> on the page becomes an explorer:
 * two seeds give two Gaussian latents z_a and z_b, a slider walks t from 0 to 1 along
 * the linear or spherical path between them, and the generator (generator.onnx, run by
 * onnxruntime-web in WebAssembly) draws G(z) on a canvas as the slider moves. The files
 * sit in the data-base folder; dcgan_lib/explorer.py writes them.
 *
 * An explorer starts (and the browser fetches the runtime) when it scrolls near the screen.
 * window.dcganExplorer is the last explorer started (window.dcganExplorers lists all):
 *   latent()  the latent whose image is on the canvas (array of latent_dim numbers)
 *   state()   {seedA, seedB, t, mode}
 *   idle()    a promise that resolves once the canvas shows the current controls
 */
(function () {
  "use strict";

  var MAX_SEED = 4294967295;
  var PARALLEL_ANGLE = 1e-4; // radians; as dcgan_lib.latent: below it slerp is lerp
  var DISPLAY_PX = 192;
  var FILE_MESSAGE =
    "This explorer runs the generator in your browser, which has to fetch it from a web " +
    "server, and this page was opened as a file. Serve the book's folder with " +
    "python -m http.server and open http://localhost:8000/ to use it.";

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

  function Explorer(box, rt) {
    var meta = rt.meta, size = meta.image_size, channels = meta.channels;
    var id = "dcgan-explorer-" + (window.dcganExplorers.length + 1);
    var seedA = element("input", { type: "number", min: "0", max: String(MAX_SEED), step: "1",
                                   value: box.getAttribute("data-seed-a") || "0",
                                   "aria-label": "seed of z_a", style: "width: 8em" });
    var seedB = element("input", { type: "number", min: "0", max: String(MAX_SEED), step: "1",
                                   value: box.getAttribute("data-seed-b") || "1",
                                   "aria-label": "seed of z_b", style: "width: 8em" });
    var random = element("button", { type: "button" }, ["random"]);
    var slider = element("input", { type: "range", min: "0", max: "1", step: "0.01",
                                    value: "0", "aria-label": "t" });
    var tText = element("output", {}, ["0.00"]);
    var linear = element("input", { type: "radio", name: id + "-mode", value: "linear" });
    var spherical = element("input", { type: "radio", name: id + "-mode", value: "spherical" });
    spherical.checked = true;
    var canvas = element("canvas", {
      width: String(size), height: String(size), role: "img",
      style: "width: " + DISPLAY_PX + "px; height: " + DISPLAY_PX + "px; " +
             "image-rendering: pixelated; border: 1px solid #888; display: block",
    });
    var normText = element("p", { class: "dcgan-explorer-norm", style: "white-space: pre" });
    var status = element("p", { class: "dcgan-explorer-status" });
    var row = "margin: 0.3em 0";
    box.textContent = "";
    [
      element("div", { style: row }, [element("label", {}, ["seed a ", seedA]), " ",
                                      element("label", {}, ["seed b ", seedB]), " ", random]),
      element("div", { style: row }, [element("label", {}, ["t ", slider]), " ", tText]),
      element("div", { style: row, role: "radiogroup", "aria-label": "path" },
              ["path: ", element("label", {}, [linear, " linear"]), " ",
               element("label", {}, [spherical, " spherical"])]),
      canvas, normText, status,
    ].forEach(function (node) { box.appendChild(node); });
    var context = canvas.getContext("2d");

    var shown = null, wanted = false, busy = false, waiters = [];
    var api = {
      images: 0,
      firstImageMs: null,
      latent: function () { return shown ? Array.from(shown.z) : null; },
      shownState: function () { return shown ? shown.state : null; },
      state: state,
      idle: function () {
        if (!busy && !wanted) return Promise.resolve();
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
      var za = gaussianLatent(s.seedA, meta.latent_dim);
      var zb = gaussianLatent(s.seedB, meta.latent_dim);
      return (s.mode === "linear" ? lerp : slerp)(za, zb, s.t);
    }

    function paint(pixels) {
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
        paint(pixels);
        var ms = performance.now() - start;
        shown = { z: z, state: s };
        api.images += 1;
        if (api.firstImageMs === null) api.firstImageMs = performance.now();
        canvas.setAttribute("aria-label", "G(z) at t = " + s.t.toFixed(2));
        normText.textContent = "\u2016z\u2016 = " + norm(z).toFixed(2) + "    \u221alatent_dim = " +
                               Math.sqrt(meta.latent_dim).toFixed(2);
        status.textContent = "Generator " + (meta.weights ? "(" + meta.weights + ") " : "") +
                             "drawn in your browser in " + ms.toFixed(0) + " ms.";
      });
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
        busy = false;
        waiters.splice(0).forEach(function (resolve) { resolve(); });
      });
    }

    function request() {
      wanted = true;
      if (!busy) pump();
    }

    random.addEventListener("click", function () {
      seedA.value = String(Math.floor(Math.random() * 2147483648));
      seedB.value = String(Math.floor(Math.random() * 2147483648));
      request();
    });
    [seedA, seedB, slider].forEach(function (input) { input.addEventListener("input", request); });
    [linear, spherical].forEach(function (input) { input.addEventListener("change", request); });
    request();
    return api;
  }

  function start(box) {
    var status = box.querySelector(".dcgan-explorer-status");
    status.textContent = "The latent explorer is loading its generator.";
    runtime(box.getAttribute("data-base")).then(function (rt) {
      var explorer = Explorer(box, rt);
      window.dcganExplorers.push(explorer);
      window.dcganExplorer = explorer;
    }).catch(function (error) {
      status.textContent = "The latent explorer could not start: " + error.message;
    });
  }

  /** Start each explorer when it comes near the screen, so that a reader who never
   *  scrolls to it does not download the runtime (about 16 MB). */
  function init() {
    window.dcganExplorers = window.dcganExplorers || [];
    document.querySelectorAll(".dcgan-explorer:not([data-started])").forEach(function (box) {
      box.setAttribute("data-started", "");
      if (location.protocol === "file:") {
        box.querySelector(".dcgan-explorer-status").textContent = FILE_MESSAGE;
        return;
      }
      if (!("IntersectionObserver" in window)) return start(box);
      box.querySelector(".dcgan-explorer-status").textContent =
        "The latent explorer loads its generator when you scroll to it.";
      var observer = new IntersectionObserver(function (entries) {
        if (entries.some(function (entry) { return entry.isIntersecting; })) {
          observer.disconnect();
          start(box);
        }
      }, { rootMargin: "300px" });
      observer.observe(box);
    });
  }

  window.dcganExplorerInit = init;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
