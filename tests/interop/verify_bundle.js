// Verify a Sigstore bundle with @sigstore/verify's low-level Verifier, offline, trusting one public key.
// usage: node verify_bundle.js BUNDLE KEY.pub TRUSTED_ROOT.json [ARTIFACT]
// Prints "verified" and exits 0, or prints the error and exits 1.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { Verifier, toTrustMaterial, toSignedEntity } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const [bundlePath, keyPath, rootPath, artifactPath] = process.argv.slice(2);
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
  const key = crypto.createPublicKey(fs.readFileSync(keyPath));
  const material = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
  const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  const artifact = artifactPath ? fs.readFileSync(artifactPath) : undefined;
  verifier.verify(toSignedEntity(bundle, artifact));
  console.log('verified');
} catch (error) {
  console.log(`rejected: ${error.message}`);
  process.exit(1);
}
