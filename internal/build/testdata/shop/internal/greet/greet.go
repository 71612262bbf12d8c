// Package greet is shared by several services of the fixture.
package greet

// Hello greets name on behalf of a service.
func Hello(name, from string) string {
	return "hello, " + name + " from " + from
}
