package api

// CSVCell exposes csvCell to the package's black-box tests (FuzzCSVCell).
var CSVCell = csvCell
