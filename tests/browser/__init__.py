"""Real-browser tests of the embed script (headless Chromium)."""
