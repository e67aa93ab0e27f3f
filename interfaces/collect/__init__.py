"""Collection from visitors' browsers: the embed script and the routes that serve it
(`embed`, `scripts`, `assets/tracker.js`), and the collector the script posts to."""
