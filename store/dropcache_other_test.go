//go:build !linux

package store

import "errors"

func dropPageCache() error { return errors.New("only on Linux") }
