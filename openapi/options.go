package openapi

// Option configures Generate and Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	title       string
	version     string
	description string
	servers     []string
	protoNames  bool
	enumNumbers bool
	sourceInfo  map[string]*sourceFile // by file path
}

func newConfig(opts []Option) *config {
	c := &config{title: "sluice", sourceInfo: map[string]*sourceFile{}}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// WithInfo sets the document's title, version and description. By default
// the title is "sluice", the version is derived from the contracts (it
// changes exactly when they do) and there is no description.
func WithInfo(title, version, description string) Option {
	return optionFunc(func(c *config) {
		if title != "" {
			c.title = title
		}
		c.version, c.description = version, description
	})
}

// WithServers lists the base URLs the API is served at, e.g.
// "https://api.example.com".
func WithServers(urls ...string) Option {
	return optionFunc(func(c *config) { c.servers = append(c.servers, urls...) })
}

// WithProtoNames documents fields and query parameters by their proto
// names (`page_size`) instead of their JSON names (`pageSize`); use it
// when the REST transcoder runs with transcoding.WithProtoNames(true).
func WithProtoNames(on bool) Option {
	return optionFunc(func(c *config) { c.protoNames = on })
}

// WithEnumNumbers documents enums as their numbers instead of their
// names; use it when the transcoder runs with
// transcoding.WithEnumNumbers(true).
func WithEnumNumbers(on bool) Option {
	return optionFunc(func(c *config) { c.enumNumbers = on })
}
