// The master upload panel (templates/uploads/panel.html): tus-js-client sends the file in
// chunks and, after a dropped connection, a closed laptop or a server restart, goes on from the
// offset the server has (the upload's URL is kept in localStorage, keyed by story and file).
(function () {
  "use strict";

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }

  function duration(seconds) {
    if (!isFinite(seconds)) { return "…"; }
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
  }

  function refreshState(panel) {
    var state = panel.querySelector(".transcode-state");
    if (state && window.htmx) { window.htmx.trigger(state, "refresh"); }
  }

  function setUp(panel) {
    var text = panel.dataset;
    var form = panel.querySelector(".upload-form");
    var box = panel.querySelector(".upload-progress");
    var bar = box.querySelector("progress");
    var status = box.querySelector(".upload-status");
    var pause = box.querySelector("[data-upload=pause]");
    var resume = box.querySelector("[data-upload=resume]");
    var upload = null, percent = 0, since = 0, sentBefore = 0;  // speed: bytes since this (re)start
    var sent = false;  // the whole file is on the server: the status line follows its transcoding
    var phases = { busy: text.textTranscoding, ready: text.textReady, failed: text.textStopped };

    function say(message) { box.hidden = false; status.textContent = message; }
    function followPhase() {
      var state = panel.querySelector(".transcode-state");
      var words = state && phases[state.dataset.phase];
      if (sent && words && status.textContent !== words) { say(words); }
    }
    // the state below is swapped in again every 2 s while the files are being made (htmx)
    panel.addEventListener("htmx:load", followPhase);
    function paused(yes) { pause.hidden = yes; resume.hidden = !yes; }
    function start() {
      since = 0;
      paused(false);
      upload.start();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = form.querySelector("input[type=file]").files[0];
      if (!file) { say(text.textChoose); return; }
      if (upload) { upload.abort(); }
      upload = new window.tus.Upload(file, {
        endpoint: text.endpoint,
        chunkSize: Number(text.chunkSize),
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000],
        headers: { "X-CSRFToken": text.csrf },
        metadata: { filename: file.name, filetype: file.type, story: text.story,
                    poster: form.querySelector("input[name=poster]").value },
        fingerprint: function (f) {
          return Promise.resolve(["portal-master", text.story, f.name, f.type, f.size, f.lastModified].join("/"));
        },
        removeFingerprintOnSuccess: true,
        onProgress: function (sent, total) {
          if (!since) { since = Date.now(); sentBefore = sent; }
          percent = total ? Math.floor(sent / total * 100) : 0;
          bar.value = percent;
          var seconds = (Date.now() - since) / 1000;
          var speed = seconds > 0 ? (sent - sentBefore) / seconds : 0;
          say(format(text.textProgress, {
            percent: percent, speed: (speed / 1e6).toFixed(1),
            left: speed > 0 ? duration((total - sent) / speed) : "…" }));
        },
        onSuccess: function () {
          bar.value = 100;
          sent = true;
          say(text.textChecking);
          pause.hidden = resume.hidden = true;
          refreshState(panel);
        },
        onError: function (error) {
          var response = error.originalResponse;
          var body = response && response.getBody ? response.getBody() : "";
          say(text.textFailed + " " + (body && body.length < 500 ? body : error.message));
          paused(true);
          refreshState(panel);
        }
      });
      box.hidden = false;
      bar.value = 0;
      sent = false;
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length) {
          say(text.textResuming);
          upload.resumeFromPreviousUpload(previous[0]);
        }
        start();
      });
    });

    pause.addEventListener("click", function () {
      if (!upload) { return; }
      upload.abort();
      paused(true);
      say(format(text.textPaused, { percent: percent }));
    });
    resume.addEventListener("click", function () {
      if (upload) { start(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".upload-panel"), setUp);
  });
}());
