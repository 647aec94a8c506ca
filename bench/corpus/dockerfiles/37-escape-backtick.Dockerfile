# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
RUN Invoke-WebRequest -Uri https://aka.ms/vs/17/release/vs_buildtools.exe -OutFile vs_buildtools.exe ; `
    Start-Process vs_buildtools.exe -ArgumentList '--quiet', '--wait' -Wait ; `
    Remove-Item vs_buildtools.exe
USER ContainerUser
