package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lesismal/nbio/logging"
)

// nbioLogger routes nbio's printf-style logs into slog. nbio logs expected events
// (a peer resetting, an accept after shutdown) at error level, so they are lowered
// one step: nbio errors become warnings, everything else debug.
type nbioLogger struct{ logger *slog.Logger }

func (l nbioLogger) log(level slog.Level, format string, values ...any) {
	if !l.logger.Enabled(context.Background(), level) {
		return
	}
	l.logger.Log(context.Background(), level, fmt.Sprintf(format, values...), "component", "nbio")
}

func (l nbioLogger) Debug(format string, values ...any) { l.log(slog.LevelDebug, format, values...) }
func (l nbioLogger) Info(format string, values ...any)  { l.log(slog.LevelDebug, format, values...) }
func (l nbioLogger) Warn(format string, values ...any)  { l.log(slog.LevelDebug, format, values...) }
func (l nbioLogger) Error(format string, values ...any) { l.log(slog.LevelWarn, format, values...) }

var installLogger sync.Once

// useLogger installs logger as nbio's process-wide logger. nbio has one global logger
// that its goroutines read without synchronisation, so it is set once, by the first
// server of the process, before any engine goroutine runs.
func useLogger(logger *slog.Logger) {
	installLogger.Do(func() { logging.SetLogger(nbioLogger{logger: logger}) })
}
