/* Static explorers: real sliders and menus that swap a frame computed at build time and its text.
   Every frame is fetched and decoded when the page opens, so a change only swaps a ready picture.
   window.courseExplorerTimings collects, per change, the milliseconds from the input event to the
   next paint with the new frame decoded (the site's test reads the slowest). */
(function () {
  "use strict";
  var timings = (window.courseExplorerTimings = window.courseExplorerTimings || []);

  function setUp(root) {
    var data = JSON.parse(root.querySelector("script.ce-data").textContent);
    var base = root.getAttribute("data-frames");
    var img = root.querySelector("img.ce-frame");
    var text = root.querySelector(".ce-text");
    var inputs = data.varied.map(function (name) { return root.querySelector('[data-control="' + name + '"]'); });
    var preloaded = data.images.map(function (file) {  // loaded, then decoded: ready means nothing is in flight
      return new Promise(function (resolve) {
        var image = new Image();
        image.onload = image.onerror = function () { resolve(image); };
        image.src = base + file;
      }).then(function (image) { return image.decode().catch(function () {}).then(function () { return image; }); });
    });
    Promise.all(preloaded).then(function () { root.setAttribute("data-ready", "true"); });

    function position(input) {
      return input.type === "checkbox" ? (input.checked ? 1 : 0) : Number(input.value);
    }

    function show() {
      var start = performance.now();
      var positions = inputs.map(position);
      var key = positions.join(",");
      var frame = data.frames[key];
      if (!frame) {  // the builder refuses such a site (pages.missing_frames); never leave a stale picture silently
        root.setAttribute("data-key", "missing:" + key);
        text.textContent = "No frame was recorded for this setting: run the notebook to see it.";
        img.alt = text.textContent;
        img.style.opacity = "0.3";
        console.error("course explorer " + root.id + ": no frame for the positions " + key);
        return;
      }
      img.style.opacity = "";
      inputs.forEach(function (input, i) {
        var output = root.querySelector('output[data-for="' + data.varied[i] + '"]');
        var label = data.labels[data.varied[i]][positions[i]];
        if (output) { output.textContent = label; }
        if (input.type === "range") { input.setAttribute("aria-valuetext", label); }
      });
      img.src = base + data.images[frame[0]];
      img.alt = data.texts[frame[1]];
      text.textContent = data.texts[frame[1]];
      root.setAttribute("data-key", key);
      img.decode().catch(function () {}).then(function () {
        requestAnimationFrame(function () { timings.push({ explorer: root.id, key: key, ms: performance.now() - start }); });
      });
    }

    inputs.forEach(function (input) { input.addEventListener("input", show); });
  }

  document.querySelectorAll(".course-explorer").forEach(setUp);
})();
