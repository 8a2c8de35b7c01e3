# ZheapInstall.cmake - placeholder until packaging lands (same session).
