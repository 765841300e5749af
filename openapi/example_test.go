package openapi_test

import (
	"fmt"
	"os"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
)

func ExampleGenerate() {
	s, err := registry.Build(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		fmt.Println(err)
		return
	}
	doc, err := openapi.Generate(s, openapi.WithInfo("Library", "v1", ""))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.OpenAPI, doc.Info.Title)
	fmt.Println(doc.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}").Get.OperationID)
	// Output:
	// 3.1.0 Library
	// LibraryService_GetBook
}

func ExampleWriteRoutes() {
	s, err := registry.Build(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := openapi.WriteRoutes(os.Stdout, s); err != nil {
		fmt.Println(err)
	}
}
