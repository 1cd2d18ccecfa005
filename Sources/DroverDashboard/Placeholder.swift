enum DroverDashboardPlaceholder {}
