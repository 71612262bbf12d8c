// Package open chooses and opens a store from a location string: a
// postgres:// (or postgresql://) URL opens the PostgreSQL store, anything
// else is the path of an embedded SQLite file. It is its own package so
// that package store, which both backends import, imports neither.
package open
