// Command app is the program of the Dockerfile fixture: it prints the
// image's /config.txt, or fails on purpose when asked to.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fail" {
		fmt.Println("failing on purpose")
		os.Exit(3)
	}
	b, err := os.ReadFile("/config.txt")
	if err != nil {
		fmt.Println("no config:", err)
		os.Exit(1)
	}
	fmt.Printf("dockerapp says %s", b)
}
