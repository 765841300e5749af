package httprule_test

import (
	"fmt"

	"github.com/sluice-dev/sluice/transcoding/httprule"
	"google.golang.org/genproto/googleapis/api/annotations"
)

func ExampleParse() {
	tmpl, err := httprule.Parse("/v1/{book.name=shelves/*/books/*}:publish")
	if err != nil {
		panic(err)
	}
	fmt.Println(tmpl.Shape(), tmpl.Verb())
	for _, v := range tmpl.Variables() {
		fmt.Println(v.FieldPath, v.Start, v.End)
	}
	_, err = httprule.Parse("/v1/{name=**}/books/**")
	fmt.Println(err)
	// Output:
	// /v1/shelves/*/books/*:publish publish
	// [book name] 1 5
	// parse path template "/v1/{name=**}/books/**": column 21: a second '**'; a template may have only one
}

func ExampleNewBuilder() {
	b := httprule.NewBuilder()
	for _, r := range []struct{ method, tmpl, rpc string }{
		{"GET", "/v1/{name=shelves/*}", "library.v1.Library/GetShelf"},
		{"POST", "/v1/{name=shelves/*}:archive", "library.v1.Library/ArchiveShelf"},
		{"GET", "/v1/shelves/{shelf}", "library.v1.Library/GetShelfAgain"},
	} {
		tmpl, err := httprule.Parse(r.tmpl)
		if err != nil {
			panic(err)
		}
		if err := b.Add(httprule.Route{Method: r.method, Template: tmpl, Value: r.rpc, Source: r.rpc}); err != nil {
			fmt.Println(err)
		}
	}
	router := b.Build()

	m, res := router.Match("GET", "/v1/shelves/a%2Fb")
	fmt.Println(res, m.Route.Value, m.Vars[0].FieldPath, m.Vars[0].Value)
	m, res = router.Match("POST", "/v1/shelves/s1:archive")
	fmt.Println(res, m.Route.Value, m.Vars[0].Value)
	m, res = router.Match("PUT", "/v1/shelves/s1")
	fmt.Println(res, m.Allow)
	_, res = router.Match("GET", "/v1/shelves/%zz")
	fmt.Println(res)
	// Output:
	// route GET /v1/shelves/{shelf} from "library.v1.Library/GetShelfAgain" shadows GET /v1/{name=shelves/*} from "library.v1.Library/GetShelf": both match the same paths, the later one wins
	// Found library.v1.Library/GetShelfAgain [shelf] a/b
	// Found library.v1.Library/ArchiveShelf shelves/s1
	// MethodNotAllowed [GET]
	// MalformedPath
}

func ExampleParseRule() {
	rule := &annotations.HttpRule{
		Selector: "library.v1.Library.UpdateBook",
		Pattern:  &annotations.HttpRule_Patch{Patch: "/v1/{book.name=shelves/*/books/*}"},
		Body:     "book",
	}
	method, tmpl, err := httprule.ParseRule(rule)
	fmt.Println(method, tmpl, err)
	// Output:
	// PATCH /v1/{book.name=shelves/*/books/*} <nil>
}
