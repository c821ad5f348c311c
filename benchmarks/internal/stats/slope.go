package stats

// Point is one measurement: a quantity Y (bytes, say) at a count X (connections).
type Point struct {
	X float64
	Y float64
}

// Slope returns the change of Y per unit of X between two points, which is how the
// benchmarks turn two memory readings into bytes per connection: the fixed cost of
// the process cancels out. It reports false when the points have the same X.
func Slope(from, to Point) (float64, bool) {
	if to.X == from.X {
		return 0, false
	}
	return (to.Y - from.Y) / (to.X - from.X), true
}
