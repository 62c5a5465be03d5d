// Dashboard charts: draw each report's ECharts option (from the engine, in data-option), resize
// with its box, and turn a click on a bar, point, slice or heatmap cell into its drill-down page.
(function () {
  var SEP = "\u001f";
  var charts = [];

  // The drill-down key of a clicked item: its dimension labels joined (as the server built them).
  function keyOf(kind, dims, option, params) {
    if (kind === "heatmap" && Array.isArray(params.value)) {
      var xs = (option.xAxis && option.xAxis.data) || [];
      var ys = (option.yAxis && option.yAxis.data) || [];
      return ys[params.value[1]] + SEP + xs[params.value[0]];
    }
    // With two dimensions each series is a value of the second one.
    return dims === 2 ? params.name + SEP + params.seriesName : params.name;
  }

  function draw(el) {
    if (el.dataset.drawn || !window.echarts) return;
    el.dataset.drawn = "1";
    var option = JSON.parse(el.dataset.option || "{}");
    var points = JSON.parse(el.dataset.points || "{}");
    var kind = el.dataset.chart || "";
    var dims = parseInt(el.dataset.dims || "1", 10);
    delete option.title; // the card's heading names the report
    // Layout only: the legend on top (scrolling when long), the plot below it, labels inside the box.
    if (option.legend) option.legend = Object.assign({}, option.legend, { type: "scroll", orient: "horizontal", left: "center", top: 0, bottom: "auto" });
    if (option.xAxis || option.yAxis) {
      option.grid = Object.assign({ containLabel: true, left: 8, right: 8, top: option.legend ? 40 : 16, bottom: kind === "heatmap" ? 56 : 8 }, option.grid || {});
    }
    if ((kind === "pie" || kind === "funnel") && option.series && option.series[0]) {
      option.series[0] = Object.assign({ top: option.legend ? 36 : 8 }, option.series[0]);
      if (kind === "pie") option.series[0].center = ["50%", "58%"];
    }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    chart.on("click", function (params) {
      var url = points[keyOf(kind, dims, option, params)];
      if (url) window.location.href = url;
    });
    charts.push(chart);
    if (window.ResizeObserver) new ResizeObserver(function () { chart.resize(); }).observe(el);
  }

  function drawAll(root) {
    (root || document).querySelectorAll(".dash-chart[data-option]").forEach(draw);
    charts = charts.filter(function (c) {
      if (document.body.contains(c.getDom())) return true;
      c.dispose();
      return false;
    });
  }

  function start() {
    drawAll(document);
    if (window.htmx) window.htmx.onLoad(function (el) { drawAll(el); });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
