/* The Traces tab's Metrics panel: draws the figures the server built (studio/charts.py,
   trace_metrics_figures) with plotly.js. Labels came through plotly_text; nothing here reads
   user text. */
(function () {
  "use strict";
  var source = document.getElementById("trace-metrics-figures");
  if (!source) return;
  var charts = JSON.parse(source.textContent);
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function draw() {
    charts.forEach(function (chart) {
      var element = document.getElementById("trace-metric-" + chart.key);
      if (element && window.Plotly) window.Plotly.newPlot(element, chart.figure.data, chart.figure.layout, config);
    });
  }

  // plotly.js is a deferred script: it has run by DOMContentLoaded.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
