"""Problems from outside the package: native problem folders, OpenEvolve and ShinkaEvolve folders."""
