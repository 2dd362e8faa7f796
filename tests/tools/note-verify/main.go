// note-verify checks a C2SP signed note (a tlog checkpoint) the way a third party would,
// with golang.org/x/mod/sumdb/note, unmodified (Debian's golang-golang-x-mod-dev):
//
//	note-verify <verifier key> <note file>
//
// It prints the verified signatures and the note text, and exits 1 when the note does not
// open under the key.
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: note-verify <verifier key> <note file>")
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier key:", err)
		os.Exit(1)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note.Open:", err)
		os.Exit(1)
	}
	for _, s := range n.Sigs {
		fmt.Printf("verified signature: %s+%08x\n", s.Name, s.Hash)
	}
	for _, s := range n.UnverifiedSigs {
		fmt.Printf("other signature (not checked): %s+%08x\n", s.Name, s.Hash)
	}
	fmt.Print(n.Text)
}
