"""The studio's pages, a module per noun; each view reads like a table of contents."""
