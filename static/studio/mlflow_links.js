// The MLflow client prints links to MLflow's own UI ("🏃 View run ... at: http://host/#/experiments/1
// /runs/<id>?workspace=team-a"). Their page is in the URL's fragment, which only the browser sees:
// this opens our page for it, in the workspace the link names (or the one in the path).
(function () {
  var hash = location.hash;
  if (hash.indexOf("#/") !== 0) return;
  var route = hash.slice(1);
  var query = "";
  var mark = route.indexOf("?");
  if (mark >= 0) {
    query = route.slice(mark + 1);
    route = route.slice(0, mark);
  }
  var params = new URLSearchParams(query);
  var inPath = location.pathname.match(/^\/ws\/([a-z0-9-]+)\//);
  var workspace = params.get("workspace") || (inPath ? inPath[1] : "default");
  // Only a workspace name, a number or a run id goes into the URL built here, nothing else.
  if (!/^[a-z0-9-]{1,64}$/.test(workspace)) return;
  var base = "/ws/" + workspace + "/";
  var name = function (text) {
    try {
      return encodeURIComponent(decodeURIComponent(text));
    } catch (error) {
      return null;
    }
  };
  var m;
  var target = null;
  if ((m = route.match(/^\/experiments\/\d+\/runs\/([0-9a-f]{32})(?:\/|$)/))) {
    target = base + "runs/" + m[1] + "/";
  } else if ((m = route.match(/^\/experiments\/(\d+)(?:\/|$)/))) {
    target = base + "experiments/" + m[1] + "/";
  } else if ((m = route.match(/^\/models\/([^/]+)\/versions\/(\d+)(?:\/|$)/)) && name(m[1])) {
    target = base + "models/" + name(m[1]) + "/versions/" + m[2] + "/";
  } else if ((m = route.match(/^\/models\/([^/]+)\/?$/)) && name(m[1])) {
    target = base + "models/" + name(m[1]) + "/";
  } else if (/^\/models\/?$/.test(route)) {
    target = base + "models/";
  } else if (/^\/compare-runs\/?$/.test(route)) {
    var runs = [];
    try {
      runs = JSON.parse(params.get("runs") || "[]");
    } catch (error) {
      runs = [];
    }
    runs = Array.isArray(runs) ? runs.filter(function (id) { return /^[0-9a-f]{32}$/.test(id); }) : [];
    target = base + "compare/" + (runs.length ? "?runs=" + runs.join(",") : "");
  } else if (route === "/" || route === "/experiments") {
    target = base;
  }
  if (target) location.replace(target);
})();
