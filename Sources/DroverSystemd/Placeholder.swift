enum DroverSystemdPlaceholder {}
