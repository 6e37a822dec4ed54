// Package cookbook holds the tools for the Nextcloud Cookbook app
// (/index.php/apps/cookbook/api/v1).
package cookbook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	app   = "cookbook"
	api   = "/index.php/apps/cookbook/api/v1"
	read  = "cookbook:read"
	write = "cookbook:write"
)

// Tools returns the Cookbook tools.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	return []tooldef.Tool{
		ImportRecipe(c), ListRecipes(c), GetRecipe(c), CreateRecipe(c), UpdateRecipe(c), DeleteRecipe(c),
		SearchRecipes(c), ListCategories(c), GetRecipesInCategory(c), ListKeywords(c),
		GetRecipesWithKeywords(c), SetConfig(c), Reindex(c),
	}
}

var (
	// Cookbook sends a recipe's id as the string "id" and, in stubs, as
	// the integer "recipe_id"; the tools take recipe_id as an integer, so
	// every answer carries it as one (a real Cookbook 0.11.9 answered
	// create with "106", which get/update/delete then refused).
	recipeOutput = nextcloud.RecordSchema("recipe", "object", "The recipe in schema.org Recipe form: recipe_id (the integer the other tools take), name, description, recipeIngredient, recipeInstructions, prepTime, cookTime, totalTime, recipeYield, recipeCategory, keywords, url.",
		map[string]string{"recipe_id": "integer"})
	recipesOutput = nextcloud.RecordSchema("recipes", "array", "Recipe stubs: recipe_id, name, keywords, category, dateCreated, dateModified, imageUrl.",
		map[string]string{"recipe_id": "integer"})
	recipeIDArg = mcp.WithInteger("recipe_id", mcp.Required(), mcp.Description("Id of the recipe."))
)

// get is a read-only tool answering one GET with a list or record.
func get(c *nextcloud.Client, name, desc, key string, out mcp.ToolOption, path func(mcp.CallToolRequest) (string, error), opts ...mcp.ToolOption) tooldef.Tool {
	opts = append([]mcp.ToolOption{mcp.WithDescription(desc)}, opts...)
	opts = append(opts, out, tooldef.Annotations(true, false, true, true))
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := path(req)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			var v json.RawMessage
			if _, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &v); err != nil {
				return nextcloud.ToolError(name, "reading "+strings.TrimPrefix(p, api+"/"), err)
			}
			out := nextcloud.Raw(v)
			if r, ok := out.(map[string]any); ok {
				withRecipeID(r)
			}
			return nextcloud.Structured(key, out), nil
		},
	}
}

func fixed(p string) func(mcp.CallToolRequest) (string, error) {
	return func(mcp.CallToolRequest) (string, error) { return p, nil }
}

// ListRecipes is nc_cookbook_list_recipes.
func ListRecipes(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_list_recipes", "List all recipes (id, name, category, keywords).", "recipes", recipesOutput, fixed(api+"/recipes"))
}

// GetRecipe is nc_cookbook_get_recipe.
func GetRecipe(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_get_recipe", "Read a recipe with ingredients and instructions.", "recipe", recipeOutput,
		func(req mcp.CallToolRequest) (string, error) {
			id, err := req.RequireInt("recipe_id")
			return api + "/recipes/" + strconv.Itoa(id), err
		}, recipeIDArg)
}

// SearchRecipes is nc_cookbook_search_recipes.
func SearchRecipes(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_search_recipes", "Search recipes by name, keyword or category.", "recipes", recipesOutput,
		func(req mcp.CallToolRequest) (string, error) {
			q, err := req.RequireString("query")
			if err == nil && strings.TrimSpace(q) == "" {
				err = fmt.Errorf("query must not be empty")
			}
			return api + "/search/" + url.PathEscape(q), err
		}, mcp.WithString("query", mcp.Required(), mcp.Description("Text to search for.")))
}

// ListCategories is nc_cookbook_list_categories.
func ListCategories(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_list_categories", "List recipe categories with their recipe counts; '*' counts recipes without a category.", "categories",
		nextcloud.OutputSchema("categories", "array", "Categories: name, recipe_count."), fixed(api+"/categories"))
}

// GetRecipesInCategory is nc_cookbook_get_recipes_in_category.
func GetRecipesInCategory(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_get_recipes_in_category", "List the recipes of a category; '_' lists recipes without a category.", "recipes", recipesOutput,
		func(req mcp.CallToolRequest) (string, error) {
			cat, err := req.RequireString("category")
			if err == nil && cat == "" {
				err = fmt.Errorf("category must not be empty (use '_' for none)")
			}
			return api + "/category/" + url.PathEscape(cat), err
		}, mcp.WithString("category", mcp.Required(), mcp.Description("Category name, or '_' for recipes without one.")))
}

// ListKeywords is nc_cookbook_list_keywords.
func ListKeywords(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_list_keywords", "List recipe keywords with their recipe counts.", "keywords",
		nextcloud.OutputSchema("keywords", "array", "Keywords: name, recipe_count."), fixed(api+"/keywords"))
}

// GetRecipesWithKeywords is nc_cookbook_get_recipes_with_keywords.
func GetRecipesWithKeywords(c *nextcloud.Client) tooldef.Tool {
	return get(c, "nc_cookbook_get_recipes_with_keywords", "List the recipes that have all the given keywords. (Cookbook 0.11.9 answers an empty list here because of a Cookbook bug; nc_cookbook_search_recipes finds recipes by one keyword.)", "recipes", recipesOutput,
		func(req mcp.CallToolRequest) (string, error) {
			kws, err := req.RequireStringSlice("keywords")
			if err == nil && len(kws) == 0 {
				err = fmt.Errorf("keywords must not be empty")
			}
			return api + "/tags/" + url.PathEscape(strings.Join(kws, ",")), err
		}, mcp.WithArray("keywords", mcp.Required(), mcp.WithStringItems(), mcp.Description("Keywords the recipes must all have.")))
}

// recipeFields maps tool arguments to schema.org Recipe properties.
var recipeFields = []struct{ arg, field, desc, typ string }{
	{"name", "name", "Recipe name (unique).", "string"},
	{"description", "description", "Short description.", "string"},
	{"ingredients", "recipeIngredient", "Ingredients, one per entry.", "array"},
	{"instructions", "recipeInstructions", "Steps, one per entry.", "array"},
	{"url", "url", "Source URL.", "string"},
	{"prep_time", "prepTime", "Preparation time as ISO 8601 duration, e.g. PT10M.", "string"},
	{"cook_time", "cookTime", "Cooking time as ISO 8601 duration.", "string"},
	{"total_time", "totalTime", "Total time as ISO 8601 duration.", "string"},
	{"recipe_yield", "recipeYield", "Number of servings.", "integer"},
	{"category", "recipeCategory", "Category.", "string"},
	{"keywords", "keywords", "Comma-separated keywords.", "string"},
}

func recipeOptions(nameRequired bool) []mcp.ToolOption {
	var opts []mcp.ToolOption
	for _, f := range recipeFields {
		po := []mcp.PropertyOption{mcp.Description(f.desc)}
		if f.arg == "name" && nameRequired {
			po = append(po, mcp.Required())
		}
		switch f.typ {
		case "array":
			opts = append(opts, mcp.WithArray(f.arg, append(po, mcp.WithStringItems())...))
		case "integer":
			opts = append(opts, mcp.WithInteger(f.arg, po...))
		default:
			opts = append(opts, mcp.WithString(f.arg, po...))
		}
	}
	return opts
}

// applyFields copies the given arguments into the recipe.
func applyFields(recipe map[string]any, args map[string]any) {
	for _, f := range recipeFields {
		if v, ok := args[f.arg]; ok && v != nil {
			recipe[f.field] = v
		}
	}
}

func idFrom(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) == nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}

// recipeID reads a recipe id as Cookbook sends it, a JSON number (create)
// or a numeric string ("id" of a recipe).
func recipeID(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), x == float64(int64(x))
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// withRecipeID adds the integer recipe_id to a full recipe, which Cookbook
// identifies only by the string "id".
func withRecipeID(r map[string]any) {
	if _, ok := r["recipe_id"]; ok {
		return
	}
	if id, ok := recipeID(r["id"]); ok {
		r["recipe_id"] = id
	}
}

// CreateRecipe is nc_cookbook_create_recipe.
func CreateRecipe(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_cookbook_create_recipe"
	opts := append([]mcp.ToolOption{mcp.WithDescription("Create a recipe.")}, recipeOptions(true)...)
	opts = append(opts, nextcloud.OutputSchema("recipe_id", "integer", "Id of the new recipe, as nc_cookbook_get_recipe, update and delete take it."), tooldef.Annotations(false, false, false, true))
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if n, _ := req.GetArguments()["name"].(string); strings.TrimSpace(n) == "" {
				return nextcloud.ArgError(name, fmt.Errorf("name is required")), nil
			}
			recipe := map[string]any{}
			applyFields(recipe, req.GetArguments())
			resp, err := c.JSON(ctx, http.MethodPost, api+"/recipes", nil, recipe, nil)
			if err != nil {
				return nextcloud.ToolError(name, "creating the recipe", err)
			}
			id, ok := recipeID(nextcloud.Raw(resp.Body))
			if !ok {
				return nextcloud.ToolError(name, "creating the recipe", fmt.Errorf("cookbook answered %q instead of the new recipe's id", idFrom(resp.Body)))
			}
			return nextcloud.Structured("recipe_id", id), nil
		},
	}
}

// UpdateRecipe is nc_cookbook_update_recipe.
func UpdateRecipe(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_cookbook_update_recipe"
	opts := append([]mcp.ToolOption{mcp.WithDescription("Change some fields of a recipe; the others are kept."), recipeIDArg}, recipeOptions(false)...)
	opts = append(opts, recipeOutput, tooldef.Annotations(false, false, true, true))
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("recipe_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			p := api + "/recipes/" + strconv.Itoa(id)
			// Cookbook replaces the whole recipe on PUT: merge first.
			recipe := map[string]any{}
			if _, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &recipe); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading recipe %d", id), err)
			}
			applyFields(recipe, req.GetArguments())
			if _, err := c.JSON(ctx, http.MethodPut, p, nil, recipe, nil); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("updating recipe %d", id), err)
			}
			withRecipeID(recipe)
			return nextcloud.Structured("recipe", recipe), nil
		},
	}
}

// DeleteRecipe is nc_cookbook_delete_recipe.
func DeleteRecipe(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_cookbook_delete_recipe"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a recipe (Cookbook reports success even for a recipe that does not exist)."),
			recipeIDArg,
			tooldef.Annotations(false, true, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("recipe_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			resp, err := c.JSON(ctx, http.MethodDelete, api+"/recipes/"+strconv.Itoa(id), nil, nil, nil)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("deleting recipe %d", id), err)
			}
			return mcp.NewToolResultText(idFrom(resp.Body)), nil
		},
	}
}

// ImportRecipe is nc_cookbook_import_recipe.
func ImportRecipe(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_cookbook_import_recipe"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Import a recipe from a web page with schema.org Recipe markup. Nextcloud fetches the page; it refuses local and IP-literal addresses."),
			mcp.WithString("url", mcp.Required(), mcp.Description("Address of the recipe page (http or https).")),
			recipeOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			u, err := req.RequireString("url")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				return nextcloud.ArgError(name, fmt.Errorf("url %q is not an http(s) address", u)), nil
			}
			var recipe json.RawMessage
			if _, err := c.JSON(ctx, http.MethodPost, api+"/import", nil, map[string]string{"url": u}, &recipe); err != nil {
				return nextcloud.ToolError(name, "importing "+u, err)
			}
			out := nextcloud.Raw(recipe)
			if r, ok := out.(map[string]any); ok {
				withRecipeID(r)
			}
			return nextcloud.Structured("recipe", out), nil
		},
	}
}

// SetConfig is nc_cookbook_set_config.
func SetConfig(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_cookbook_set_config"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Change Cookbook settings: the recipe folder, the rescan interval, whether to print images."),
			mcp.WithString("folder", mcp.Description("Folder holding the recipes, e.g. /Recipes.")),
			mcp.WithInteger("update_interval", mcp.Description("Minutes between rescans of the folder.")),
			mcp.WithBoolean("print_image", mcp.Description("Print recipe images.")),
			tooldef.Annotations(false, false, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			body := map[string]any{}
			for _, k := range []string{"folder", "update_interval", "print_image"} {
				if v, ok := req.GetArguments()[k]; ok && v != nil {
					body[k] = v
				}
			}
			if len(body) == 0 {
				return nextcloud.ArgError(name, fmt.Errorf("give folder, update_interval or print_image")), nil
			}
			if _, err := c.JSON(ctx, http.MethodPost, api+"/config", nil, body, nil); err != nil {
				return nextcloud.ToolError(name, "saving the settings", err)
			}
			return mcp.NewToolResultText("Cookbook settings saved."), nil
		},
	}
}

// Reindex is nc_cookbook_reindex.
func Reindex(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_cookbook_reindex"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Rebuild Cookbook's search index from the recipe folder."),
			tooldef.Annotations(false, false, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			resp, err := c.JSON(ctx, http.MethodPost, api+"/reindex", nil, nil, nil)
			if err != nil {
				return nextcloud.ToolError(name, "rebuilding the index", err)
			}
			return mcp.NewToolResultText(idFrom(resp.Body)), nil
		},
	}
}
