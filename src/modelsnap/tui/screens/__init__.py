"""One Screen per checklist step, the set-up screen and the help panel."""
