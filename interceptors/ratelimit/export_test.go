package ratelimit

// BucketCount reports how many local buckets the i-th limit holds.
func BucketCount(l *Limiter, i int) int { return l.limits[i].buckets.size() }
