"""tinyedge tune tests: a package, so this folder's conftest and modules have their own names."""
