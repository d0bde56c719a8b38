//go:build !linux

package serialsim

import (
	"errors"
	"os"
)

func makeRaw(*os.File) error {
	return errors.New("raw mode is only implemented on Linux")
}
