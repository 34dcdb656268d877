"""Reading the files of a local corpus: safe file access and one parser per format family."""
