package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"
)

// checkedValue wraps a flag's value while the command line is parsed, so that a
// value the flag rejects is reported as "-name "value": problem" rather than in the
// flag package's words. The first rejection is kept in rejected.
type checkedValue struct {
	flag.Value
	name     string
	rejected *error
}

// Set sets the wrapped value, keeping the rejection of a bad value.
func (v *checkedValue) Set(text string) error {
	if err := v.Value.Set(text); err != nil {
		problem := valueProblem(v.Value, text)
		if *v.rejected == nil {
			*v.rejected = fmt.Errorf("-%s %q: %s", v.name, text, problem)
		}
		return errors.New(problem)
	}
	return nil
}

// Get returns the wrapped value (every flag of the standard types is a flag.Getter).
func (v *checkedValue) Get() any { return v.Value.(flag.Getter).Get() }

// checkedBool is a checkedValue of a boolean flag, which the flag package lets
// stand alone (-insecure-user-id) or take =true / =false.
type checkedBool struct{ *checkedValue }

// IsBoolFlag tells the flag package that the flag needs no value.
func (checkedBool) IsBoolFlag() bool { return true }

// checkValues wraps every flag of flags in a checkedValue reporting to rejected.
// Only the parsing set is wrapped: printUsage uses a set of its own, because the flag
// package names a flag's type (int, duration) from its unwrapped value.
func checkValues(flags *flag.FlagSet, rejected *error) {
	flags.VisitAll(func(f *flag.Flag) {
		checked := &checkedValue{Value: f.Value, name: f.Name, rejected: rejected}
		if _, isBool := f.Value.(flag.Getter).Get().(bool); isBool {
			f.Value = checkedBool{checked}
			return
		}
		f.Value = checked
	})
}

// setUnchecked sets f's value from text without recording a command-line
// rejection; it returns what is wrong with text, or "" when it was accepted.
func setUnchecked(f *flag.Flag, text string) string {
	value := f.Value
	switch checked := value.(type) {
	case *checkedValue:
		value = checked.Value
	case checkedBool:
		value = checked.Value
	}
	if err := value.Set(text); err != nil {
		return valueProblem(value, text)
	}
	return ""
}

// valueProblem says why text is not a value of value's type.
func valueProblem(value flag.Value, text string) string {
	getter, _ := value.(flag.Getter)
	if getter == nil {
		return "not a valid value"
	}
	switch getter.Get().(type) {
	case time.Duration:
		if _, err := strconv.ParseFloat(text, 64); err == nil {
			return "a duration needs a unit, e.g. 30s or 1m"
		}
		return "not a duration; write e.g. 500ms, 30s, 1m or 1h30m"
	case int:
		if _, err := strconv.Atoi(text); errors.Is(err, strconv.ErrRange) {
			return "out of range"
		}
		return "not a whole number"
	case float64:
		return "not a number"
	case bool:
		return "not true or false"
	}
	return "not a valid value"
}
