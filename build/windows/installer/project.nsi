Unicode true

# Atoll's Windows installer. Built by `make dist-check` (scripts/dist.sh
# windows): `wails build -nsis` renders wails_tools.nsh and the WebView2
# bootstrapper next to this file and runs makensis on it with
# -DARG_WAILS_AMD64_BINARY=<atoll-desktop.exe>; the version is wails.json's,
# which scripts/dist.sh sets to `make dist-check VERSION=` for the build.

!define INFO_PROJECTNAME "atoll"
!define INFO_COMPANYNAME "Atoll"
!define INFO_PRODUCTNAME "Atoll"
!define PRODUCT_EXECUTABLE "atoll-desktop.exe"
!define UNINST_KEY_NAME "Atoll"
# Per-user install: no administrator prompt, and the app, its shortcuts and
# its data all belong to the user who installed it.
!define REQUEST_EXECUTION_LEVEL "user"

!include "wails_tools.nsh"

# The CLI goes in too when scripts/dist.sh put it beside the desktop exe.
!ifndef ARG_ATOLL_CLI
    !if /FileExists "..\..\bin\atoll.exe"
        !define ARG_ATOLL_CLI "..\..\bin\atoll.exe"
    !endif
!endif

!ifndef ARG_OUTFILE
    !define ARG_OUTFILE "..\..\bin\Atoll-${INFO_PRODUCTVERSION}-${ARCH}-setup.exe"
!endif

# Windows wants four numbers here.
VIProductVersion "${INFO_PRODUCTVERSION}.0"
VIFileVersion    "${INFO_PRODUCTVERSION}.0"
VIAddVersionKey "CompanyName"     "${INFO_COMPANYNAME}"
VIAddVersionKey "FileDescription" "${INFO_PRODUCTNAME} Setup"
VIAddVersionKey "ProductVersion"  "${INFO_PRODUCTVERSION}"
VIAddVersionKey "FileVersion"     "${INFO_PRODUCTVERSION}"
VIAddVersionKey "LegalCopyright"  "${INFO_COPYRIGHT}"
VIAddVersionKey "ProductName"     "${INFO_PRODUCTNAME}"

ManifestDPIAware true
RequestExecutionLevel user

!include "MUI2.nsh"

!define MUI_ICON "..\icon.ico"
!define MUI_UNICON "..\icon.ico"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${PRODUCT_EXECUTABLE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start Atoll"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "SimpChinese"

Name "${INFO_PRODUCTNAME}"
OutFile "${ARG_OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Atoll"
InstallDirRegKey HKCU "Software\Atoll" "InstallDir"
ShowInstDetails show

Function .onInit
    !insertmacro wails.checkArchitecture
FunctionEnd

Section
    !insertmacro wails.setShellContext

    # Atoll's window is a WebView2: Windows 11 has it, Windows 10 may not.
    # The macro looks for the runtime in the registry and runs Microsoft's
    # bootstrapper (bundled, about 2 MB) only when it is missing.
    !insertmacro wails.webview2runtime

    SetOutPath $INSTDIR
    !insertmacro wails.files
!ifdef ARG_ATOLL_CLI
    File "/oname=atoll.exe" "${ARG_ATOLL_CLI}"
!endif
    File "/oname=atoll.ico" "..\icon.ico"
    WriteRegStr HKCU "Software\Atoll" "InstallDir" "$INSTDIR"

    CreateDirectory "$SMPROGRAMS\Atoll"
    CreateShortcut "$SMPROGRAMS\Atoll\Atoll.lnk" "$INSTDIR\${PRODUCT_EXECUTABLE}" "" "$INSTDIR\atoll.ico"
    CreateShortcut "$SMPROGRAMS\Atoll\Uninstall Atoll.lnk" "$INSTDIR\uninstall.exe"
    CreateShortcut "$DESKTOP\Atoll.lnk" "$INSTDIR\${PRODUCT_EXECUTABLE}" "" "$INSTDIR\atoll.ico"

    !insertmacro wails.writeUninstaller
    # wails.writeUninstaller registers under HKLM; a per-user install is
    # listed under HKCU so that "Apps & features" finds it without admin.
    WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${INFO_PRODUCTNAME}"
    WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${INFO_PRODUCTVERSION}"
    WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${INFO_COMPANYNAME}"
    WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\atoll.ico"
    WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" "$\"$INSTDIR\uninstall.exe$\""
    WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" "$\"$INSTDIR\uninstall.exe$\" /S"
SectionEnd

Section "uninstall"
    !insertmacro wails.setShellContext

    # Only what the installer put here goes. The user's knowledge bases,
    # agents and settings in %LOCALAPPDATA%\Atoll stay: removing the app
    # must never remove the user's work.
    Delete "$INSTDIR\${PRODUCT_EXECUTABLE}"
    Delete "$INSTDIR\atoll.exe"
    Delete "$INSTDIR\atoll.ico"
    # The WebView2 cache Wails keeps beside the user's roaming profile.
    RMDir /r "$APPDATA\${PRODUCT_EXECUTABLE}"

    Delete "$SMPROGRAMS\Atoll\Atoll.lnk"
    Delete "$SMPROGRAMS\Atoll\Uninstall Atoll.lnk"
    RMDir "$SMPROGRAMS\Atoll"
    Delete "$DESKTOP\Atoll.lnk"

    DeleteRegKey HKCU "${UNINST_KEY}"
    DeleteRegKey HKCU "Software\Atoll"
    !insertmacro wails.deleteUninstaller
    RMDir "$INSTDIR"
SectionEnd
