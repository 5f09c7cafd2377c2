; Inno Setup 6 script: a per-user installer for the one-folder Windows build (no admin rights).
; NOT BUILT OR RUN YET: it needs Windows. packaging/build.py runs it when iscc is on PATH:
;   iscc /DAppVersion=0.1.0 /DSourceDir=C:\path\to\dist\tlgui /OC:\path\to\dist packaging\windows\tlgui.iss
; Output: dist\tlgui-VERSION-windows-x86_64-setup.exe. Uninstall: Settings > Apps, or the Start menu.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\tlgui"
#endif

[Setup]
AppId={{6F1C7C2E-3B1D-4E0A-9E55-7C1B2D9A4F10}
AppName=tlgui
AppVersion={#AppVersion}
AppPublisher=tlgui
DefaultDirName={localappdata}\Programs\tlgui
DefaultGroupName=tlgui
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=tlgui-{#AppVersion}-windows-x86_64-setup
Compression=lzma2/normal
SolidCompression=no
DiskSpanning=no
UninstallDisplayIcon={app}\tlgui.exe
WizardStyle=modern

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\tlgui"; Filename: "{app}\tlgui.exe"
Name: "{group}\Uninstall tlgui"; Filename: "{uninstallexe}"
Name: "{userdesktop}\tlgui"; Filename: "{app}\tlgui.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\tlgui.exe"; Description: "Start tlgui"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; files the app itself never writes here; runs and settings live in %LOCALAPPDATA%\tlgui and stay
Type: filesandordirs; Name: "{app}\_internal"
