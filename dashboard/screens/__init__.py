"""Page scripts of the dashboard, one per page; :mod:`dashboard.navigation` lists them."""
