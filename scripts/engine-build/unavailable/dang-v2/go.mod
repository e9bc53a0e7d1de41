// Not served by the module proxy here; no package of it is compiled into our build.
module github.com/vito/dang/v2
